#include "vmm/kvm_vfio.h"

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <spdlog/spdlog.h>

#include <cerrno>
#include <cstdint>
#include <cstring>

namespace skiff {

Result<void> add_vfio_group_to_kvm(const VmFd& vm, UniqueFd& device, int group_fd) {
    if (!device.valid()) {
        kvm_create_device create{};
        create.type = KVM_DEV_TYPE_VFIO;
        if (::ioctl(vm.fd(), KVM_CREATE_DEVICE, &create) < 0) {
            return errno_error("KVM_CREATE_DEVICE (KVM's VFIO device)");
        }
        device = UniqueFd(static_cast<int>(create.fd));
    }
    int32_t fd = group_fd;
    kvm_device_attr attribute{};
    attribute.group = KVM_DEV_VFIO_GROUP;
    attribute.attr = KVM_DEV_VFIO_GROUP_ADD;
    attribute.addr = reinterpret_cast<uintptr_t>(&fd);
    if (::ioctl(device.get(), KVM_SET_DEVICE_ATTR, &attribute) < 0) {
        return errno_error("KVM_DEV_VFIO_GROUP_ADD");
    }
    return {};
}

void remove_vfio_group_from_kvm(int device, int group_fd) {
    int32_t fd = group_fd;
    kvm_device_attr attribute{};
    attribute.group = KVM_DEV_VFIO_GROUP;
    attribute.attr = KVM_DEV_VFIO_GROUP_DEL;
    attribute.addr = reinterpret_cast<uintptr_t>(&fd);
    if (::ioctl(device, KVM_SET_DEVICE_ATTR, &attribute) < 0) {
        spdlog::warn("KVM_DEV_VFIO_GROUP_DEL: {}", std::strerror(errno));
    }
}

}  // namespace skiff
