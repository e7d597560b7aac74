// The kernel's vhost-net (/dev/vhost-net): VhostNetBackend as ioctls on an
// owned fd.
//
// The ioctl call itself goes through an IoctlFunction, ::ioctl by default,
// so that unit tests record the exact request numbers and decode the
// argument structures without a kernel.
#pragma once

#include "devices/virtio/vhost/vhost_backend.h"
#include "vmm/unique_fd.h"

#include <functional>
#include <memory>

namespace skiff::vhost {

// ioctl(fd, request, arg): the result and errno as ::ioctl sets them.
using IoctlFunction = std::function<int(int fd, unsigned long request, void* arg)>;

// ::ioctl itself.
[[nodiscard]] IoctlFunction system_ioctl();

class KernelVhostNet final : public VhostNetBackend {
public:
    explicit KernelVhostNet(UniqueFd fd, IoctlFunction ioctl = system_ioctl());

    [[nodiscard]] int fd() const { return fd_.get(); }

    [[nodiscard]] Result<void> set_owner() override;
    [[nodiscard]] Result<uint64_t> get_features() override;
    [[nodiscard]] Result<void> set_features(uint64_t features) override;
    [[nodiscard]] Result<void> set_mem_table(std::span<const MemoryRegion> regions) override;
    [[nodiscard]] Result<void> set_vring_num(uint32_t index, uint32_t size) override;
    [[nodiscard]] Result<void> set_vring_base(uint32_t index, uint32_t base) override;
    [[nodiscard]] Result<uint32_t> get_vring_base(uint32_t index) override;
    [[nodiscard]] Result<void> set_vring_addr(uint32_t index, const VringAddresses& addresses) override;
    [[nodiscard]] Result<void> set_vring_kick(uint32_t index, int fd) override;
    [[nodiscard]] Result<void> set_vring_call(uint32_t index, int fd) override;
    [[nodiscard]] Result<void> net_set_backend(uint32_t index, int fd) override;

private:
    [[nodiscard]] Result<void> call(unsigned long request, void* arg, std::string_view what);
    [[nodiscard]] Result<void> vring_file(unsigned long request, uint32_t index, int fd, std::string_view what);

    UniqueFd fd_;
    IoctlFunction ioctl_;
};

// Opens `path` (O_RDWR | O_CLOEXEC) and makes this process its owner
// (VHOST_SET_OWNER). Errors are one line naming the cause and the fix:
// "/dev/vhost-net not found: modprobe vhost_net, or use mode=tap", or
// "/dev/vhost-net: permission denied: run skiff as root or give it rw
// access to /dev/vhost-net, or use mode=tap".
[[nodiscard]] Result<std::unique_ptr<KernelVhostNet>> open_vhost_net(const char* path = "/dev/vhost-net",
                                                                    IoctlFunction ioctl = system_ioctl());

}  // namespace skiff::vhost
