// RAII owners for the three levels of the KVM API: the system (/dev/kvm),
// one VM, one vCPU. Each wraps the ioctls of its level and returns Result.
// Construction (set-up ioctls) is separate from running (Vcpu::run).
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/memory_mapping.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <linux/kvm.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace skiff {

class Kvm final {
public:
    // Opens /dev/kvm (or `device_path`) and checks the API version and the
    // extensions skiff cannot run without.
    static Result<Kvm> open(const char* device_path = "/dev/kvm");

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] int check_extension(long extension) const;
    [[nodiscard]] Result<size_t> vcpu_mmap_size() const;
    [[nodiscard]] Result<std::vector<kvm_cpuid_entry2>> supported_cpuid() const;

private:
    explicit Kvm(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

class VmFd final {
public:
    // KVM_CREATE_VM, then the x86 essentials: TSS and identity-map pages,
    // in-kernel irqchip (PIC + IOAPIC + LAPIC) and PIT.
    static Result<VmFd> create(const Kvm& kvm);

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] Result<void> set_user_memory_region(uint32_t slot, const GuestRegion& region);
    // Registers every region of guest memory, one slot each.
    [[nodiscard]] Result<void> map_guest_memory(const GuestMemory& memory);
    // Sets an IRQ line level on the in-kernel irqchip (PIC and IOAPIC).
    [[nodiscard]] Result<void> set_irq_line(uint32_t irq, bool level) const;
    // KVM_SET_GSI_ROUTING: replaces the VM's whole GSI routing table
    // (irqchip pins and MSI routes) with `entries`.
    [[nodiscard]] Result<void> set_gsi_routing(std::span<const kvm_irq_routing_entry> entries) const;
    [[nodiscard]] Result<void> register_irqfd(int event_fd, uint32_t gsi) const;
    [[nodiscard]] Result<void> unregister_irqfd(int event_fd, uint32_t gsi) const;
    // A write of `length` bytes to `address` (MMIO, or port I/O when `pio`)
    // signals event_fd in the kernel instead of exiting to skiff; with
    // `datamatch`, only a write of that value does.
    [[nodiscard]] Result<void> register_ioeventfd(int event_fd, uint64_t address, uint32_t length, bool pio,
                                                  std::optional<uint64_t> datamatch = std::nullopt) const;
    [[nodiscard]] Result<void> unregister_ioeventfd(int event_fd, uint64_t address, uint32_t length, bool pio,
                                                    std::optional<uint64_t> datamatch = std::nullopt) const;

private:
    explicit VmFd(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

class VcpuFd final {
public:
    static Result<VcpuFd> create(const Kvm& kvm, const VmFd& vm, uint32_t index);

    [[nodiscard]] int fd() const { return fd_.get(); }
    [[nodiscard]] uint32_t index() const { return index_; }
    // The shared kvm_run page; exits are read from it after run().
    [[nodiscard]] kvm_run& run_page() const { return *reinterpret_cast<kvm_run*>(run_.data()); }

    // KVM_RUN. Returns false (not an error) when interrupted by a signal.
    [[nodiscard]] Result<bool> run() const;

    [[nodiscard]] Result<kvm_regs> registers() const;
    [[nodiscard]] Result<void> set_registers(const kvm_regs& registers) const;
    [[nodiscard]] Result<kvm_sregs> special_registers() const;
    [[nodiscard]] Result<void> set_special_registers(const kvm_sregs& registers) const;
    [[nodiscard]] Result<kvm_fpu> fpu() const;
    [[nodiscard]] Result<void> set_fpu(const kvm_fpu& fpu) const;
    [[nodiscard]] Result<void> set_cpuid(std::span<const kvm_cpuid_entry2> entries) const;
    [[nodiscard]] Result<void> set_msrs(const std::vector<kvm_msr_entry>& entries) const;
    [[nodiscard]] Result<kvm_lapic_state> lapic() const;
    [[nodiscard]] Result<void> set_lapic(const kvm_lapic_state& state) const;
    [[nodiscard]] Result<kvm_vcpu_events> events() const;
    [[nodiscard]] Result<void> set_events(const kvm_vcpu_events& events) const;
    // Guest-virtual to guest-physical through the vCPU's current page tables.
    [[nodiscard]] Result<uint64_t> translate(uint64_t guest_virtual) const;

private:
    VcpuFd(UniqueFd fd, MemoryMapping run, uint32_t index)
        : fd_(std::move(fd)), run_(std::move(run)), index_(index) {}
    UniqueFd fd_;
    MemoryMapping run_;
    uint32_t index_ = 0;
};

}  // namespace skiff
