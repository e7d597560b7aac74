#include "net/interface.h"

#include "net/net_config.h"
#include "net/netlink.h"

#include "vmm/unique_fd.h"

#include <fcntl.h>
#include <linux/if_tun.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sockios.h>  // SIOCBRADDIF
#include <net/if.h>
#include <net/if_arp.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <span>
#include <vector>


namespace skiff::net {

namespace {

// strerror, except for the errors users meet most, which read better in
// words that point at the fix.
std::string describe_errno(int error) {
    switch (error) {
        case EPERM:
        case EACCES:
            return "permission denied";
        case ENODEV:
            return "no such interface";
        default:
            return std::strerror(error);
    }
}

// "interface 'NAME': WHAT: CAUSE[: FIX]". `manual_fix` is how to do the
// same by hand, offered with the privilege fix when permission is denied.
Error interface_error(std::string_view name, std::string_view what, int error, std::string_view manual_fix = {}) {
    std::string message = fmt::format("interface '{}': {}: {}", name, what, describe_errno(error));
    if (error == EPERM || error == EACCES) {
        message += fmt::format(": {}", kNeedNetAdmin);
        if (!manual_fix.empty()) {
            message += fmt::format(", or do it beforehand ({})", manual_fix);
        }
    } else if (error == ENODEV) {
        message = fmt::format("interface '{}' does not exist", name);
    }
    return Error{std::move(message)};
}

Result<UniqueFd> ioctl_socket() {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!socket_fd.valid()) {
        return errno_error("opening a socket for interface ioctls");
    }
    return socket_fd;
}

ifreq request_for(const std::string& name) {
    ifreq request{};
    std::memcpy(request.ifr_name, name.data(), std::min(name.size(), size_t{IFNAMSIZ - 1}));
    return request;
}

// Runs one interface ioctl; errno is returned (0 on success).
Result<int> interface_ioctl(unsigned long command, ifreq& request) {
    auto socket_fd = TRY(ioctl_socket());
    if (::ioctl(socket_fd.get(), command, &request) < 0) {
        return errno;
    }
    return 0;
}

Result<short> link_flags(const std::string& name) {
    auto request = request_for(name);
    if (int error = TRY(interface_ioctl(SIOCGIFFLAGS, request)); error != 0) {
        return interface_error(name, "reading its flags", error);
    }
    return request.ifr_flags;
}

// A 32-bit attribute's value; nullopt when the payload is too short.
std::optional<uint32_t> attribute_u32(std::span<const uint8_t> payload) {
    if (payload.size() < sizeof(uint32_t)) {
        return std::nullopt;
    }
    uint32_t value = 0;
    std::memcpy(&value, payload.data(), sizeof(value));
    return value;
}

std::string attribute_string(std::span<const uint8_t> payload) {
    std::string text(payload.begin(), payload.end());
    text.resize(::strnlen(text.c_str(), text.size()));
    return text;
}

}  // namespace

std::optional<LinkInfo> parse_link(std::span<const uint8_t> body) {
    if (body.size() < NLMSG_ALIGN(sizeof(ifinfomsg))) {
        return std::nullopt;
    }
    ifinfomsg info{};
    std::memcpy(&info, body.data(), sizeof(info));
    LinkInfo link;
    link.index = static_cast<unsigned>(info.ifi_index);
    link.up = (info.ifi_flags & IFF_UP) != 0;
    link.ethernet = info.ifi_type == ARPHRD_ETHER && (info.ifi_flags & IFF_LOOPBACK) == 0;
    std::span<const uint8_t> kind_data;  // IFLA_INFO_DATA, read once the kind is known
    for_each_netlink_attribute(netlink_attributes_after<ifinfomsg>(body), [&](unsigned type, auto payload) {
        if (type == IFLA_MASTER && attribute_u32(payload)) {
            link.master_index = attribute_u32(payload);
        } else if (type == IFLA_LINK && attribute_u32(payload)) {
            link.link_index = attribute_u32(payload);
        } else if (type == IFLA_MTU && attribute_u32(payload)) {
            link.mtu = attribute_u32(payload);
        } else if (type == IFLA_IFNAME) {
            link.name = attribute_string(payload);
        } else if (type == IFLA_IFALIAS) {
            link.alias = attribute_string(payload);
        } else if (type == IFLA_ADDRESS && payload.size() == 6) {
            MacAddress mac;
            std::copy(payload.begin(), payload.end(), mac.bytes.begin());
            link.mac = mac;
        } else if (type == IFLA_LINKINFO) {
            for_each_netlink_attribute(payload, [&](unsigned nested_type, auto nested) {
                if (nested_type == IFLA_INFO_KIND) {
                    link.kind = attribute_string(nested);
                } else if (nested_type == IFLA_INFO_DATA) {
                    kind_data = nested;
                }
            });
        }
    });
    if (link.kind == "tun") {
        TunInfo tun;
        for_each_netlink_attribute(kind_data, [&](unsigned type, auto payload) {
            bool flag = !payload.empty() && payload[0] != 0;
            switch (type) {
                case IFLA_TUN_TYPE:
                    tun.tap = !payload.empty() && payload[0] == IFF_TAP;
                    break;
                case IFLA_TUN_PI:
                    tun.packet_info = flag;
                    break;
                case IFLA_TUN_VNET_HDR:
                    tun.vnet_header = flag;
                    break;
                case IFLA_TUN_PERSIST:
                    tun.persistent = flag;
                    break;
                case IFLA_TUN_MULTI_QUEUE:
                    tun.multi_queue = flag;
                    break;
                default:
                    break;
            }
        });
        link.tun = tun;
    } else if (link.kind == "macvtap" || link.kind == "macvlan") {
        for_each_netlink_attribute(kind_data, [&](unsigned type, auto payload) {
            if (type == IFLA_MACVLAN_MODE && attribute_u32(payload)) {
                link.macvlan_mode = attribute_u32(payload);
            }
        });
    }
    return link;
}

Result<std::vector<LinkInfo>> list_links() {
    auto request = NetlinkMessage::link(RTM_GETLINK, 0, NLM_F_DUMP);
    request.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    std::vector<LinkInfo> links;
    int error = TRY(netlink_dump(request, [&](uint16_t type, std::span<const uint8_t> payload) {
        if (type != RTM_NEWLINK) {
            return;
        }
        if (auto link = parse_link(payload)) {
            links.push_back(std::move(*link));
        }
    }));
    if (error != 0) {
        return Error::format("listing the interfaces (RTM_GETLINK dump): {}", std::strerror(error));
    }
    return links;
}

Result<std::optional<LinkInfo>> find_link(const std::string& name) {
    TRY(check_interface_name(name));
    auto request = NetlinkMessage::link(RTM_GETLINK);
    request.put_string(IFLA_IFNAME, name);
    // Statistics make up most of a reply and are not needed.
    request.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    NetlinkAnswer answer = TRY(netlink_query(request).context_error(fmt::format("interface '{}'", name)));
    if (answer.error == ENODEV) {
        return std::optional<LinkInfo>{};
    }
    if (answer.error != 0) {
        return interface_error(name, "querying it (RTM_GETLINK)", answer.error);
    }
    if (answer.type != RTM_NEWLINK) {
        return Error::format("interface '{}': unexpected netlink reply type {}", name, answer.type);
    }
    auto link = parse_link(answer.payload);
    if (!link) {
        return Error::format("interface '{}': malformed RTM_NEWLINK", name);
    }
    return link;
}

Result<void> check_interface_name(std::string_view name) {
    if (name.empty()) {
        return Error{"an interface name cannot be empty"};
    }
    if (name.size() > IFNAMSIZ - 1) {
        return Error::format("interface name '{}' is {} characters long: the kernel allows at most {}", name,
                             name.size(), IFNAMSIZ - 1);
    }
    if (name == "." || name == "..") {
        return Error::format("'{}' is not a valid interface name", name);
    }
    for (char character : name) {
        if (character == '/' || character == ':' || character == '%' || character == ',' || character == '=' ||
            std::isspace(static_cast<unsigned char>(character)) || character == '\0') {
            return Error::format("interface name '{}' contains '{}': use letters, digits, '-', '_' or '.'", name,
                                 character == '\0' ? std::string("\\0") : std::string(1, character));
        }
    }
    return {};
}

bool interface_exists(const std::string& name) { return ::if_nametoindex(name.c_str()) != 0; }

Result<LinkInfo> query_link(const std::string& name) {
    auto link = TRY(find_link(name));
    if (!link) {
        return interface_error(name, "", ENODEV);
    }
    return std::move(*link);
}

std::string interface_name(unsigned index) {
    char name[IF_NAMESIZE] = {};
    if (::if_indextoname(index, name) == nullptr) {
        return fmt::format("#{}", index);
    }
    return name;
}

Result<bool> is_link_up(const std::string& name) {
    short flags = TRY(link_flags(name));
    return (flags & IFF_UP) != 0;
}

Result<void> set_link_up(const std::string& name) {
    auto request = request_for(name);
    request.ifr_flags = TRY(link_flags(name));
    if ((request.ifr_flags & IFF_UP) != 0) {
        return {};
    }
    request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
    if (int error = TRY(interface_ioctl(SIOCSIFFLAGS, request)); error != 0) {
        return interface_error(name, "setting it up", error, fmt::format("ip link set {} up", name));
    }
    return {};
}

Result<uint32_t> interface_mtu(const std::string& name) {
    auto request = request_for(name);
    if (int error = TRY(interface_ioctl(SIOCGIFMTU, request)); error != 0) {
        return interface_error(name, "reading its MTU", error);
    }
    return static_cast<uint32_t>(request.ifr_mtu);
}

Result<void> set_interface_mtu(const std::string& name, uint32_t mtu) {
    auto request = request_for(name);
    request.ifr_mtu = static_cast<int>(mtu);
    if (int error = TRY(interface_ioctl(SIOCSIFMTU, request)); error != 0) {
        auto what = fmt::format("setting MTU {}", mtu);
        if (error == EINVAL) {
            return Error::format("interface '{}': {}: the interface does not take that MTU (a tap takes {} to {}, "
                                 "a macvtap {} to its link's MTU)",
                                 name, what, kMinMtu, kMaxTapMtu, kMinMtu);
        }
        return interface_error(name, what, error, fmt::format("ip link set {} mtu {}", name, mtu));
    }
    return {};
}

Result<MacAddress> interface_mac(const std::string& name) {
    auto request = request_for(name);
    if (int error = TRY(interface_ioctl(SIOCGIFHWADDR, request)); error != 0) {
        return interface_error(name, "reading its MAC address", error);
    }
    MacAddress mac;
    std::memcpy(mac.bytes.data(), request.ifr_hwaddr.sa_data, mac.bytes.size());
    return mac;
}

Result<void> set_interface_mac(const std::string& name, const MacAddress& mac) {
    auto request = request_for(name);
    request.ifr_hwaddr.sa_family = 1;  // ARPHRD_ETHER
    std::memcpy(request.ifr_hwaddr.sa_data, mac.bytes.data(), mac.bytes.size());
    if (int error = TRY(interface_ioctl(SIOCSIFHWADDR, request)); error != 0) {
        return interface_error(name, fmt::format("setting MAC {}", mac.to_string()), error,
                               fmt::format("ip link set {} address {}", name, mac.to_string()));
    }
    return {};
}

Result<void> add_to_bridge(const std::string& bridge, const std::string& name) {
    auto bridge_link = TRY(find_link(bridge));
    if (!bridge_link) {
        return Error::format("bridge '{}' does not exist: create it (ip link add {} type bridge) or drop bridge=",
                             bridge, bridge);
    }
    if (bridge_link->kind != "bridge") {
        return Error::format("'{}' is not a bridge (it is {}): name a bridge (ip link show type bridge) or drop "
                             "bridge=",
                             bridge,
                             bridge_link->kind.empty() ? std::string("a network device")
                                                       : fmt::format("a {} interface", bridge_link->kind));
    }
    auto port = TRY(query_link(name));
    if (port.master_index == bridge_link->index) {
        return {};
    }
    if (port.master_index) {
        auto other = interface_name(*port.master_index);
        return Error::format("interface '{}' is already a port of '{}', not of bridge '{}': detach it (ip link set "
                             "{} nomaster) or use bridge={}",
                             name, other, bridge, name, other);
    }
    auto request = request_for(bridge);
    request.ifr_ifindex = static_cast<int>(port.index);
    if (int error = TRY(interface_ioctl(SIOCBRADDIF, request)); error != 0) {
        if (error == EPERM || error == EACCES) {
            return Error::format("adding interface '{}' to bridge '{}': permission denied: {}, or add it "
                                 "beforehand (ip link set {} master {})",
                                 name, bridge, kNeedNetAdmin, name, bridge);
        }
        return Error::format("adding interface '{}' to bridge '{}': {}", name, bridge, describe_errno(error));
    }
    return {};
}

Result<void> delete_persistent_tap(const std::string& name) {
    auto link = TRY(query_link(name));  // TUNSETIFF on a missing name would create it
    if (link.kind != "tun") {
        return Error::format("interface '{}' is not a tap (it is {})", name,
                             link.kind.empty() ? std::string("a network device") : "a " + link.kind);
    }
    UniqueFd tun(::open("/dev/net/tun", O_RDWR | O_CLOEXEC));
    if (!tun.valid()) {
        return interface_error(name, "opening /dev/net/tun", errno);
    }
    auto request = request_for(name);
    request.ifr_flags = IFF_TAP | IFF_NO_PI;
    if (::ioctl(tun.get(), TUNSETIFF, &request) < 0) {
        return interface_error(name, "attaching to it (TUNSETIFF)", errno);
    }
    if (::ioctl(tun.get(), TUNSETPERSIST, 0) < 0) {
        return interface_error(name, "clearing TUNSETPERSIST", errno, fmt::format("ip link delete {}", name));
    }
    return {};  // the kernel deletes it when `tun` closes
}

}  // namespace skiff::net
