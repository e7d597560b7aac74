// The VM's GSI routing table, owned by skiff once any MSI route exists.
//
// KVM_SET_GSI_ROUTING replaces the whole table, so every commit sends the
// routes KVM installs by default for the in-kernel irqchip (GSI 0..15 to
// both the PIC, master or slave, and the IOAPIC pin of the same number; GSI
// 16..23 to the IOAPIC) followed by the MSI routes. Without the former, the
// legacy devices' IRQ lines (serial, PIT...) would go nowhere. MSI GSIs are
// handed out from 24 up.
#pragma once

#include "devices/pci/msi_routing.h"
#include "vmm/kvm.h"

#include <linux/kvm.h>

#include <cstdint>
#include <map>
#include <mutex>
#include <set>
#include <vector>

namespace skiff {

class KvmIrqRouting final : public pci::MsiRouting {
public:
    static constexpr uint32_t kFirstMsiGsi = 24;
    // KVM_MAX_IRQ_ROUTES: KVM refuses larger GSIs.
    static constexpr uint32_t kGsiLimit = 4096;

    // `vm` must outlive this object.
    explicit KvmIrqRouting(const VmFd& vm) : vm_(vm) {}

    [[nodiscard]] Result<uint32_t> allocate_gsi() override;
    void release_gsi(uint32_t gsi) override;
    void set_msi_route(uint32_t gsi, uint64_t address, uint32_t data) override;
    void remove_route(uint32_t gsi) override;
    [[nodiscard]] Result<void> commit() override;
    [[nodiscard]] Result<void> register_irqfd(int event_fd, uint32_t gsi) override;
    [[nodiscard]] Result<void> unregister_irqfd(int event_fd, uint32_t gsi) override;

    // What KVM installs for the irqchip when the VM is created.
    [[nodiscard]] static std::vector<kvm_irq_routing_entry> default_routes();
    // The table the next commit() sends.
    [[nodiscard]] std::vector<kvm_irq_routing_entry> table() const;

private:
    struct MsiRoute {
        uint64_t address;
        uint32_t data;
    };
    [[nodiscard]] std::vector<kvm_irq_routing_entry> table_locked() const;

    const VmFd& vm_;
    mutable std::mutex mutex_;
    std::set<uint32_t> allocated_;
    std::map<uint32_t, MsiRoute> routes_;  // by GSI: the table is sent in GSI order
};

}  // namespace skiff
