// How MSI-X vectors reach the guest: each vector is an eventfd that KVM
// turns into an interrupt on the vector's GSI (irqfd), and each GSI has an
// MSI route (address and data from the guest's MSI-X table). Behind an
// interface so the PCI code is tested against a fake; the KVM version is
// vmm/irq_routing.h.
//
// Route changes are staged and take effect at commit(), which replaces
// KVM's whole routing table. Thread-safe: several devices' vCPU threads
// change routes at once.
#pragma once

#include "vmm/result.h"

#include <cstdint>

namespace skiff::pci {

class MsiRouting {
public:
    virtual ~MsiRouting() = default;

    // A GSI of its own for one MSI vector; fails when none is left.
    [[nodiscard]] virtual Result<uint32_t> allocate_gsi() = 0;
    // Gives a GSI back (its route, if any, is removed at the next commit).
    virtual void release_gsi(uint32_t gsi) = 0;

    // Stages an MSI route for `gsi`, or its removal (the GSI then raises
    // nothing).
    virtual void set_msi_route(uint32_t gsi, uint64_t address, uint32_t data) = 0;
    virtual void remove_route(uint32_t gsi) = 0;
    // Installs the staged table.
    [[nodiscard]] virtual Result<void> commit() = 0;

    // Makes a write to event_fd raise `gsi` in the kernel (KVM_IRQFD).
    [[nodiscard]] virtual Result<void> register_irqfd(int event_fd, uint32_t gsi) = 0;
    [[nodiscard]] virtual Result<void> unregister_irqfd(int event_fd, uint32_t gsi) = 0;
};

}  // namespace skiff::pci
