// GuestAccess through a vCPU: guest-virtual addresses are translated with
// the vCPU's current page tables (KVM_TRANSLATE), a page at a time, and the
// physical ranges are checked by GuestMemory.
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/instruction_completion.h"
#include "vmm/kvm.h"

namespace skiff {

class VcpuGuestAccess final : public GuestAccess {
public:
    VcpuGuestAccess(const VcpuFd& vcpu, const GuestMemory& memory) : vcpu_(vcpu), memory_(memory) {}

    Result<void> read_virtual(uint64_t address, std::span<std::byte> bytes) override;
    Result<void> write_virtual(uint64_t address, std::span<const std::byte> bytes) override;
    // Atomic against other vCPUs: a locked compare-exchange on the host
    // mapping of the (aligned, so single-page) operand.
    Result<bool> compare_exchange_virtual(uint64_t address, std::span<std::byte> expected,
                                          std::span<const std::byte> desired) override;

private:
    const VcpuFd& vcpu_;
    const GuestMemory& memory_;
};

}  // namespace skiff
