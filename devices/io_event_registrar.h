// Where a transport asks that a guest's write to one of its registers
// signal an eventfd directly (KVM's ioeventfd), so that a queue notification
// reaches the device's data path without a vCPU exit into skiff. Devices
// never talk to KVM themselves: the VMM passes KvmIoEventRegistrar
// (vmm/kvm_io_event_registrar.h), tests a recorder.
#pragma once

#include "vmm/result.h"

#include <cstdint>

namespace skiff {

class IoEventRegistrar {
public:
    virtual ~IoEventRegistrar() = default;
    // A guest write of exactly `length` bytes holding `datamatch` to MMIO
    // address `address` signals `event_fd` instead of exiting.
    [[nodiscard]] virtual Result<void> register_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                           uint64_t datamatch) = 0;
    // Undoes a registration made with the same arguments: virtio-pci moves
    // its notification addresses with its BAR and drops them at reset.
    [[nodiscard]] virtual Result<void> unregister_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                             uint64_t datamatch) = 0;
};

}  // namespace skiff
