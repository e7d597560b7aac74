#include "devices/virtio/vhost/vhost_kernel.h"

#include "devices/virtio/vhost/vhost_abi.h"

#include <fcntl.h>
#include <sys/ioctl.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace skiff::vhost {

IoctlFunction system_ioctl() {
    return [](int fd, unsigned long request, void* arg) { return ::ioctl(fd, request, arg); };
}

KernelVhostNet::KernelVhostNet(UniqueFd fd, IoctlFunction ioctl) : fd_(std::move(fd)), ioctl_(std::move(ioctl)) {}

Result<void> KernelVhostNet::call(unsigned long request, void* arg, std::string_view what) {
    if (ioctl_(fd_.get(), request, arg) < 0) {
        int error = errno;
        return errno_error(fmt::format("vhost-net {}", what), error);
    }
    return {};
}

Result<void> KernelVhostNet::vring_file(unsigned long request, uint32_t index, int fd, std::string_view what) {
    vhost_vring_file file{.index = index, .fd = fd};
    return call(request, &file, fmt::format("{} (queue {}, fd {})", what, index, fd));
}

Result<void> KernelVhostNet::set_owner() { return call(abi::kSetOwner, nullptr, "VHOST_SET_OWNER"); }

Result<uint64_t> KernelVhostNet::get_features() {
    uint64_t features = 0;
    TRY(call(abi::kGetFeatures, &features, "VHOST_GET_FEATURES"));
    return features;
}

Result<void> KernelVhostNet::set_features(uint64_t features) {
    return call(abi::kSetFeatures, &features, fmt::format("VHOST_SET_FEATURES {:#x}", features));
}

Result<void> KernelVhostNet::set_mem_table(std::span<const MemoryRegion> regions) {
    // Header and regions in one buffer of 8-byte words, laid out as C does.
    static_assert(sizeof(abi::MemoryHeader) % sizeof(uint64_t) == 0 && sizeof(abi::MemoryRegion) % sizeof(uint64_t) == 0);
    std::vector<uint64_t> buffer((sizeof(abi::MemoryHeader) + regions.size() * sizeof(abi::MemoryRegion)) /
                                 sizeof(uint64_t));
    abi::MemoryHeader header{.nregions = static_cast<uint32_t>(regions.size()), .padding = 0};
    std::memcpy(buffer.data(), &header, sizeof(header));
    auto* bytes = reinterpret_cast<std::byte*>(buffer.data()) + sizeof(header);
    for (const MemoryRegion& region : regions) {
        abi::MemoryRegion entry{.guest_phys_addr = region.guest_phys_addr,
                                .memory_size = region.memory_size,
                                .userspace_addr = region.userspace_addr,
                                .flags_padding = 0};
        std::memcpy(bytes, &entry, sizeof(entry));
        bytes += sizeof(entry);
    }
    return call(abi::kSetMemTable, buffer.data(), fmt::format("VHOST_SET_MEM_TABLE ({} regions)", regions.size()));
}

Result<void> KernelVhostNet::set_vring_num(uint32_t index, uint32_t size) {
    vhost_vring_state state{.index = index, .num = size};
    return call(abi::kSetVringNum, &state, fmt::format("VHOST_SET_VRING_NUM (queue {}, size {})", index, size));
}

Result<void> KernelVhostNet::set_vring_base(uint32_t index, uint32_t base) {
    vhost_vring_state state{.index = index, .num = base};
    return call(abi::kSetVringBase, &state, fmt::format("VHOST_SET_VRING_BASE (queue {}, base {})", index, base));
}

Result<uint32_t> KernelVhostNet::get_vring_base(uint32_t index) {
    vhost_vring_state state{.index = index, .num = 0};
    TRY(call(abi::kGetVringBase, &state, fmt::format("VHOST_GET_VRING_BASE (queue {})", index)));
    return state.num;
}

Result<void> KernelVhostNet::set_vring_addr(uint32_t index, const VringAddresses& addresses) {
    vhost_vring_addr addr{};
    addr.index = index;
    addr.flags = addresses.flags;
    addr.desc_user_addr = addresses.desc_user_addr;
    addr.used_user_addr = addresses.used_user_addr;
    addr.avail_user_addr = addresses.avail_user_addr;
    addr.log_guest_addr = addresses.log_guest_addr;
    return call(abi::kSetVringAddr, &addr, fmt::format("VHOST_SET_VRING_ADDR (queue {})", index));
}

Result<void> KernelVhostNet::set_vring_kick(uint32_t index, int fd) {
    return vring_file(abi::kSetVringKick, index, fd, "VHOST_SET_VRING_KICK");
}

Result<void> KernelVhostNet::set_vring_call(uint32_t index, int fd) {
    return vring_file(abi::kSetVringCall, index, fd, "VHOST_SET_VRING_CALL");
}

Result<void> KernelVhostNet::net_set_backend(uint32_t index, int fd) {
    return vring_file(abi::kNetSetBackend, index, fd, "VHOST_NET_SET_BACKEND");
}

Result<std::unique_ptr<KernelVhostNet>> open_vhost_net(const char* path, IoctlFunction ioctl) {
    UniqueFd fd(::open(path, O_RDWR | O_CLOEXEC));
    if (!fd.valid()) {
        int error = errno;
        switch (error) {
            case ENOENT:
                return Error::format("{} not found: modprobe vhost_net, or use mode=tap", path);
            case EACCES:
            case EPERM:
                return Error::format(
                    "{}: permission denied: run skiff as root or give it rw access to {}, or use mode=tap", path,
                    path);
            default:
                return Error::format("{}: {}: check that the vhost_net module is loaded, or use mode=tap", path,
                                     std::strerror(error));
        }
    }
    auto backend = std::make_unique<KernelVhostNet>(std::move(fd), std::move(ioctl));
    auto owned = backend->set_owner();
    if (!owned.ok()) {
        return Error::format("{}: {}: another process may own it; or use mode=tap", path, owned.error().message);
    }
    return backend;
}

}  // namespace skiff::vhost
