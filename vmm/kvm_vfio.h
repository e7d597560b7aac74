// KVM's VFIO pseudo-device (KVM_DEV_TYPE_VFIO): telling KVM which VFIO
// groups the VM uses lets it honour guest cache maintenance for devices
// doing non-coherent DMA, and is what some platforms' IOMMUs expect. One
// such device per VM; every passed-through group is added to it.
#pragma once

#include "vmm/kvm.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"

namespace skiff {

// Creates the VM's KVM VFIO device into `device` on first use, then
// KVM_DEV_VFIO_GROUP_ADD of `group_fd`.
[[nodiscard]] Result<void> add_vfio_group_to_kvm(const VmFd& vm, UniqueFd& device, int group_fd);
// KVM_DEV_VFIO_GROUP_DEL, before the group is closed and its function
// given back; failures are logged.
void remove_vfio_group_from_kvm(int device, int group_fd);

}  // namespace skiff
