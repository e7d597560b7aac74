// IoEventRegistrar on KVM: KVM_IOEVENTFD with datamatch. A registration
// lives until unregistered or until the VM goes (KVM holds its own reference
// to the eventfd); virtio-mmio never unregisters, virtio-pci does when the
// guest moves its BAR or resets the device.
#pragma once

#include "devices/io_event_registrar.h"
#include "vmm/kvm.h"

namespace skiff {

class KvmIoEventRegistrar final : public IoEventRegistrar {
public:
    explicit KvmIoEventRegistrar(const VmFd& vm) : vm_(vm) {}

    [[nodiscard]] Result<void> register_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                   uint64_t datamatch) override {
        return vm_.register_ioeventfd(event_fd, address, length, /*pio=*/false, datamatch);
    }
    [[nodiscard]] Result<void> unregister_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                     uint64_t datamatch) override {
        return vm_.unregister_ioeventfd(event_fd, address, length, /*pio=*/false, datamatch);
    }

private:
    const VmFd& vm_;
};

}  // namespace skiff
