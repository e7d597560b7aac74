#include "net/tap.h"

#include "net/interface.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

namespace skiff::net {

namespace {

constexpr const char* kTunDevice = "/dev/net/tun";
constexpr short kTapFlags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR;

Error tap_error(std::string_view name, std::string message) {
    return Error{fmt::format("tap '{}': {}", name, message)};
}

// What an fd refers to, for error messages: "pipe:[1234]", "/dev/null".
std::string describe_fd(int fd) {
    char target[PATH_MAX] = {};
    auto link = fmt::format("/proc/self/fd/{}", fd);
    ssize_t length = ::readlink(link.c_str(), target, sizeof(target) - 1);
    return length > 0 ? std::string(target, static_cast<size_t>(length)) : std::string("?");
}

Result<UniqueFd> open_tun_device(std::string_view name) {
    UniqueFd tun(::open(kTunDevice, O_RDWR | O_CLOEXEC | O_NONBLOCK));
    if (tun.valid()) {
        return tun;
    }
    int error = errno;
    switch (error) {
        case ENOENT:
        case ENODEV:
        case ENXIO:
            return tap_error(name, fmt::format("{}: {}: load the tun module (modprobe tun) or create the device "
                                               "node (mknod {} c 10 200)",
                                               kTunDevice, std::strerror(error), kTunDevice));
        case EACCES:
        case EPERM:
            return tap_error(name, fmt::format("{}: permission denied: {}, or give this user read and write access "
                                               "to {}",
                                               kTunDevice, kNeedNetAdmin, kTunDevice));
        default:
            return tap_error(name, fmt::format("{}: {}", kTunDevice, std::strerror(error)));
    }
}

// Explains a failed TUNSETIFF on `name`; the interface may or may not
// exist, which decides what went wrong.
Error attach_error(const std::string& name, int error) {
    auto link = find_link(name);
    bool exists = link.ok() && link->has_value();
    std::string kind = exists ? (*link)->kind : std::string();
    switch (error) {
        case EPERM:
        case EACCES:
            if (!exists) {
                return tap_error(name, fmt::format("does not exist, and creating it needs CAP_NET_ADMIN: {}, or "
                                                   "create it beforehand for this user (ip tuntap add {} mode tap "
                                                   "user $USER)",
                                                   kNeedNetAdmin, name));
            }
            return tap_error(name, fmt::format("permission denied: it belongs to another user or group; open it as "
                                               "its owner, or {}",
                                               kNeedNetAdmin));
        case EINVAL:
            if (exists && kind != "tun") {
                return tap_error(name, fmt::format("an interface of that name exists and is {}, not a tap: choose "
                                                   "another ifname",
                                                   kind.empty() ? std::string("a network device")
                                                                : fmt::format("a {} interface", kind)));
            }
            return tap_error(name, "exists but is a tun (layer 3) device or a multi-queue tap; skiff needs a "
                                   "single-queue tap (ip tuntap add NAME mode tap): choose another ifname");
        case EBUSY:
            return tap_error(name, "is in use by another process (a single-queue tap has one reader): stop it or "
                                   "choose another ifname");
        default:
            return tap_error(name, fmt::format("TUNSETIFF: {}", std::strerror(error)));
    }
}

// Checks that an fd handed to skiff is a usable tap and returns its
// interface's name and TUN flags.
Result<ifreq> inspect_tap_fd(int fd) {
    if (::fcntl(fd, F_GETFD) < 0) {
        return Error::format("fd {} is not open: pass the tap to skiff on fd {} (or fix fd=)", fd, fd);
    }
    ifreq request{};
    if (::ioctl(fd, TUNGETIFF, &request) < 0) {
        int error = errno;
        if (error == EBADFD) {
            return Error::format("fd {} ({}) is not attached to an interface: call TUNSETIFF on it before passing "
                                 "it to skiff",
                                 fd, describe_fd(fd));
        }
        return Error::format("fd {} ({}) is not a tap (TUNGETIFF: {}): pass an fd of {} attached to a tap with "
                             "TUNSETIFF",
                             fd, describe_fd(fd), std::strerror(error), kTunDevice);
    }
    std::string name(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
    short flags = request.ifr_flags;
    if ((flags & IFF_TAP) == 0) {
        return Error::format("fd {} is '{}', a tun device in layer-3 mode (IFF_TUN): skiff needs a tap (IFF_TAP)", fd,
                             name);
    }
    // Everything below looks the interface up by name in skiff's network
    // namespace; the fd's tap may live in another one (where the name may
    // even be taken by a different interface). The tap's MAC through its
    // own fd against the MAC of that name here tells, without the
    // privilege TUNGETDEVNETNS needs.
    ifreq address_request{};
    if (::ioctl(fd, SIOCGIFHWADDR, &address_request) < 0) {
        return Error::format("fd {} (tap '{}'): reading its MAC address: {}", fd, name, std::strerror(errno));
    }
    bool same_interface_here = false;
    if (interface_exists(name)) {
        auto local_mac = interface_mac(name);
        same_interface_here =
            local_mac.ok() &&
            std::memcmp(local_mac->bytes.data(), address_request.ifr_hwaddr.sa_data, local_mac->bytes.size()) == 0;
    }
    if (!same_interface_here) {
        return Error::format("fd {} (tap '{}') belongs to another network namespace than skiff: run skiff in the "
                             "tap's namespace",
                             fd, name);
    }
    // IFF_NO_PI cannot be read from TUNGETIFF (IFF_NOFILTER shares its
    // bit there); the device's netlink attributes have it.
    // A macvtap's /dev/tapN answers the same ioctls; it has no tun
    // attributes and always runs without packet information.
    auto link = TRY(query_link(name).context_error(fmt::format("fd {}", fd)));
    bool is_macvtap = link.kind == "macvtap";
    if (!link.tun && !is_macvtap) {
        return Error::format("fd {}: the kernel reports no tun attributes for '{}'", fd, name);
    }
    std::vector<std::string_view> missing;
    if ((flags & IFF_VNET_HDR) == 0) {
        missing.push_back("IFF_VNET_HDR");
    }
    if (!is_macvtap && link.tun->packet_info) {
        missing.push_back("IFF_NO_PI");
    }
    if (!missing.empty()) {
        return Error::format("fd {} (tap '{}') was set up without {}: open it with IFF_TAP | IFF_NO_PI | "
                             "IFF_VNET_HDR",
                             fd, name, fmt::join(missing, " and "));
    }
    return request;
}

unsigned offload_bits(const Offloads& offloads) {
    return (offloads.checksum ? TUN_F_CSUM : 0u) | (offloads.tso4 ? TUN_F_TSO4 : 0u) |
           (offloads.tso6 ? TUN_F_TSO6 : 0u);
}

std::string describe_offloads(const Offloads& offloads) {
    std::vector<std::string_view> names;
    if (offloads.checksum) {
        names.push_back("csum");
    }
    if (offloads.tso4) {
        names.push_back("tso4");
    }
    if (offloads.tso6) {
        names.push_back("tso6");
    }
    return names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, " "));
}

std::string_view drop_reason(int error) {
    switch (error) {
        case EIO:
            return "the interface is down";
        case EINVAL:
            return "the kernel refused the frame or its virtio-net header";
        case ENOMEM:
        case ENOBUFS:
            return "the kernel is short of memory";
        default:
            return std::strerror(error);
    }
}

}  // namespace

Result<std::unique_ptr<Tap>> Tap::open(TapOptions options) {
    std::unique_ptr<Tap> tap;
    if (options.fd.valid()) {
        int fd = options.fd.get();
        auto request = TRY(inspect_tap_fd(fd));
        std::string name(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
        if (!options.ifname.empty() && options.ifname != name) {
            return Error::format("fd {} is tap '{}', not '{}' as ifname= says: fix ifname= or drop it", fd, name,
                                 options.ifname);
        }
        // Close-on-exec: nothing skiff starts should hold the guest's link.
        if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 || ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
            return errno_error(fmt::format("tap '{}' (fd {}): fcntl", name, fd));
        }
        tap.reset(new Tap(std::move(options.fd), std::move(name), false));
    } else {
        TRY(check_interface_name(options.ifname).context_error("tap"));
        auto tun = TRY(open_tun_device(options.ifname));
        ifreq request{};
        std::memcpy(request.ifr_name, options.ifname.data(), options.ifname.size());
        request.ifr_flags = kTapFlags;
        if (::ioctl(tun.get(), TUNSETIFF, &request) < 0) {
            return attach_error(options.ifname, errno);
        }
        // A tap without IFF_PERSIST lives only while an fd is attached, and
        // a single-queue tap takes one fd: so this one was created just now.
        ifreq attached{};
        if (::ioctl(tun.get(), TUNGETIFF, &attached) < 0) {
            return tap_error(options.ifname, fmt::format("TUNGETIFF: {}", std::strerror(errno)));
        }
        bool created = (attached.ifr_flags & IFF_PERSIST) == 0;
        tap.reset(new Tap(std::move(tun), options.ifname, created));
    }
    TRY(tap->prepare());
    spdlog::info("tap '{}': {}, offloads available: {}", tap->name_,
                 tap->created_ ? "created (removed when skiff exits)" : "opened", describe_offloads(tap->supported_));
    return tap;
}

Result<void> Tap::prepare() {
    int header_size = static_cast<int>(kVnetHeaderSize);
    if (::ioctl(fd_.get(), TUNSETVNETHDRSZ, &header_size) < 0) {
        return tap_error(name_, fmt::format("TUNSETVNETHDRSZ {}: {}", header_size, std::strerror(errno)));
    }
    // virtio 1.x headers are little-endian, which on x86 is also the tap's
    // default (native) byte order: no TUNSETVNETLE needed.

    // The kernel refuses a TUNSETOFFLOAD with any bit it cannot honour, so
    // the richest combination it accepts is what it supports. TSO needs
    // partial checksums: every TSO combination includes TUN_F_CSUM.
    const Offloads candidates[] = {
        {true, true, true}, {true, true, false}, {true, false, true}, {true, false, false},
    };
    for (const auto& candidate : candidates) {
        if (::ioctl(fd_.get(), TUNSETOFFLOAD, offload_bits(candidate)) == 0) {
            supported_ = candidate;
            break;
        }
    }
    // Nothing enabled until the guest negotiates: a guest without
    // VIRTIO_NET_F_GUEST_CSUM must get complete frames.
    if (::ioctl(fd_.get(), TUNSETOFFLOAD, 0u) < 0) {
        return tap_error(name_, fmt::format("TUNSETOFFLOAD 0: {}", std::strerror(errno)));
    }
    return {};
}

Result<void> Tap::set_offloads(const Offloads& offloads) {
    if ((offloads.checksum && !supported_.checksum) || (offloads.tso4 && !supported_.tso4) ||
        (offloads.tso6 && !supported_.tso6)) {
        return tap_error(name_, fmt::format("offloads '{}' asked, only '{}' available", describe_offloads(offloads),
                                            describe_offloads(supported_)));
    }
    if ((offloads.tso4 || offloads.tso6) && !offloads.checksum) {
        return tap_error(name_, "TSO without checksum offload is not possible");
    }
    if (::ioctl(fd_.get(), TUNSETOFFLOAD, offload_bits(offloads)) < 0) {
        return tap_error(name_, fmt::format("TUNSETOFFLOAD {}: {}", describe_offloads(offloads), std::strerror(errno)));
    }
    return {};
}

Result<IoResult> Tap::send(std::span<const iovec> frame) {
    if (frame.size() > IOV_MAX) {
        count_dropped_frame(EMSGSIZE);
        return IoResult::Done;
    }
    ssize_t written = ::writev(fd_.get(), frame.data(), static_cast<int>(frame.size()));
    if (written >= 0) {
        return IoResult::Done;  // a tap takes a frame whole or not at all
    }
    int error = errno;
    switch (error) {
        case EAGAIN:
            return IoResult::WouldBlock;
        case EINTR:
            return IoResult::WouldBlock;  // nothing moved; the fd is still writable
        case EIO:
        case EINVAL:
        case ENOMEM:
        case ENOBUFS:
        case EMSGSIZE:
            count_dropped_frame(error);
            return IoResult::Done;
        case EBADFD:
            return tap_error(name_, "the interface was deleted: the guest's link is gone");
        default:
            return tap_error(name_, fmt::format("writev: {}", std::strerror(error)));
    }
}

Result<IoResult> Tap::receive(std::span<const iovec> buffers, size_t& received) {
    received = 0;
    if (buffers.size() > IOV_MAX) {
        return tap_error(name_, fmt::format("receive into {} buffers (at most {})", buffers.size(), IOV_MAX));
    }
    ssize_t length = ::readv(fd_.get(), buffers.data(), static_cast<int>(buffers.size()));
    if (length >= 0) {
        size_t capacity = 0;
        for (const auto& buffer : buffers) {
            capacity += buffer.iov_len;
        }
        received = std::min(static_cast<size_t>(length), capacity);
        return IoResult::Done;
    }
    int error = errno;
    switch (error) {
        case EAGAIN:
        case EINTR:
            return IoResult::WouldBlock;
        case EBADFD:
            return tap_error(name_, "the interface was deleted: the guest's link is gone");
        default:
            return tap_error(name_, fmt::format("readv: {}", std::strerror(error)));
    }
}

void Tap::count_dropped_frame(int error) {
    uint64_t total = dropped_frames_.fetch_add(1, std::memory_order_relaxed) + 1;
    log_limited(drop_warnings_, spdlog::level::warn, "tap '{}': dropped a frame from the guest: {} ({} in all)", name_,
                drop_reason(error), total);
}

}  // namespace skiff::net
