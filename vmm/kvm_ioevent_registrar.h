// IoEventRegistrar on KVM_IOEVENTFD (no data match: each virtio queue has
// its own notification address).
#pragma once

#include "devices/ioevent_registrar.h"
#include "vmm/kvm.h"

namespace skiff {

class KvmIoEventRegistrar final : public IoEventRegistrar {
public:
    // `vm` must outlive this object.
    explicit KvmIoEventRegistrar(const VmFd& vm) : vm_(vm) {}

    [[nodiscard]] Result<void> register_mmio(int event_fd, uint64_t address, uint32_t length) override {
        return vm_.register_ioeventfd(event_fd, address, length, /*pio=*/false);
    }
    [[nodiscard]] Result<void> unregister_mmio(int event_fd, uint64_t address, uint32_t length) override {
        return vm_.unregister_ioeventfd(event_fd, address, length, /*pio=*/false);
    }

private:
    const VmFd& vm_;
};

}  // namespace skiff
