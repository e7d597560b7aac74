// Where a device asks for MMIO writes to signal an eventfd in the kernel
// instead of exiting to skiff (KVM ioeventfd): virtio queue notifications.
// Behind an interface so transports are tested against a fake; the KVM
// version is vmm/kvm_ioevent_registrar.h.
#pragma once

#include "vmm/result.h"

#include <cstdint>

namespace skiff {

class IoEventRegistrar {
public:
    virtual ~IoEventRegistrar() = default;
    // A guest write of exactly `length` bytes (1, 2, 4 or 8) to MMIO
    // `address` signals event_fd.
    [[nodiscard]] virtual Result<void> register_mmio(int event_fd, uint64_t address, uint32_t length) = 0;
    [[nodiscard]] virtual Result<void> unregister_mmio(int event_fd, uint64_t address, uint32_t length) = 0;
};

}  // namespace skiff
