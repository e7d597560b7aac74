// Everything VFIO passthrough asks of the host kernel, behind one thin
// interface so that skiff's side is tested against a fake sysfs tree and a
// fake VFIO kernel (tests/unit/fake_vfio_host.h):
//   - sysfs: files relative to a root ("/" on a real host), e.g.
//     "sys/bus/pci/devices/0000:03:10.2/iommu_group";
//   - /dev/vfio/vfio and /dev/vfio/N, their ioctls, pread/pwrite at a
//     region's offset and mmap of a region;
//   - the rtnetlink requests VF set-up makes (reading and setting the VF's
//     MAC, through the PF).
// No policy here: the callers (sysfs_binding.h, vfio_device.h) decide.
#pragma once

#include "net/netlink.h"
#include "vmm/memory_mapping.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::vfio {

class VfioHost {
public:
    virtual ~VfioHost() = default;

    // sysfs (paths relative to the root, no leading '/').
    [[nodiscard]] virtual bool exists(std::string_view path) const = 0;
    // The file's contents without the trailing newline.
    [[nodiscard]] virtual Result<std::string> read_file(std::string_view path) const = 0;
    [[nodiscard]] virtual Result<void> write_file(std::string_view path, std::string_view value) = 0;
    // A symlink's target as stored ("../../../bus/pci/drivers/ixgbevf").
    [[nodiscard]] virtual Result<std::string> read_link(std::string_view path) const = 0;
    // Entry names of a directory, sorted, without "." and "..".
    [[nodiscard]] virtual Result<std::vector<std::string>> list_directory(std::string_view path) const = 0;

    // Device nodes (relative to the root too: "dev/vfio/vfio").
    [[nodiscard]] virtual Result<UniqueFd> open_device(std::string_view path) = 0;
    // ioctl(2): the ioctl's non-negative result, or -errno. `argument` is a
    // pointer or, for CHECK_EXTENSION and SET_IOMMU, an integer in disguise.
    virtual int ioctl(int fd, unsigned long request, void* argument) = 0;
    // The whole of `data` at `offset` of a device fd (a region's offset plus
    // the offset inside it).
    [[nodiscard]] virtual Result<void> pread(int fd, std::span<uint8_t> data, uint64_t offset) = 0;
    [[nodiscard]] virtual Result<void> pwrite(int fd, std::span<const uint8_t> data, uint64_t offset) = 0;
    // A shared read/write mapping of `size` bytes at `offset` of a device fd.
    [[nodiscard]] virtual Result<MemoryMapping> mmap(int fd, uint64_t size, uint64_t offset) = 0;

    // rtnetlink: the interface index of a host interface, and one request
    // with the kernel's answer (net::netlink_query).
    [[nodiscard]] virtual Result<uint32_t> interface_index(std::string_view name) const = 0;
    [[nodiscard]] virtual Result<net::NetlinkAnswer> netlink(const net::NetlinkMessage& message) = 0;
    // A request to send should skiff die of a crash signal
    // (net::CreatedLinks), and dropping it again.
    [[nodiscard]] virtual std::optional<size_t> remember_for_crash(const net::NetlinkMessage& message) = 0;
    virtual void forget_for_crash(size_t slot) = 0;
};

// The real thing: the filesystem under `root` (sysfs at root/sys, device
// nodes at root/dev) and real system calls.
std::shared_ptr<VfioHost> make_system_vfio_host(std::string root = "/");

}  // namespace skiff::vfio
