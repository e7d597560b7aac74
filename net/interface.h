// Host-side set-up of network interfaces in skiff's network namespace:
// link state, MTU, MAC, bridge membership. Changes are ioctls on an
// AF_INET socket (no shelling out to ip(8)); the one read-only query no
// ioctl answers without CAP_NET_ADMIN (an interface's master and kind) is
// a netlink RTM_GETLINK. sysfs is not used: /sys/class/net shows the
// namespace sysfs was mounted in, which after `unshare -n` is not ours.
//
// Errors name the interface, the cause and the fix, e.g. "interface
// 'tap0': setting MTU 9000: permission denied: run skiff as root or give
// it CAP_NET_ADMIN, or set it beforehand (ip link set tap0 mtu 9000)".
//
// Removing interfaces: a tap skiff creates (TUNSETIFF without
// TUNSETPERSIST) is removed by the kernel when its last fd closes, so
// skiff never deletes one explicitly; delete_persistent_tap() is for
// persistent taps (tests, and users cleaning up).
#pragma once

#include "net/mac_address.h"
#include "vmm/result.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skiff::net {

// The fix appended to errors where a privilege is missing.
inline constexpr std::string_view kNeedNetAdmin = "run skiff as root or give it CAP_NET_ADMIN";

// The kernel's rule for interface names (dev_valid_name): 1..15 bytes,
// not "." or "..", no '/', ':' or white space. skiff also refuses '%'
// (a kernel-chosen name "tap%d" would make "open or create" ambiguous) and
// ',' and '=' (they cannot pass through --net).
Result<void> check_interface_name(std::string_view name);

// What the kernel reports of a tun/tap device (IFLA_TUN_*). The packet
// information flag is only known this way: TUNGETIFF reports IFF_NOFILTER
// in the bit IFF_NO_PI uses.
struct TunInfo {
    bool tap = false;           // IFF_TAP (else IFF_TUN)
    bool packet_info = false;   // frames carry the 4-byte header (no IFF_NO_PI)
    bool vnet_header = false;   // IFF_VNET_HDR
    bool persistent = false;    // IFF_PERSIST
    bool multi_queue = false;   // IFF_MULTI_QUEUE
};

struct LinkInfo {
    unsigned index = 0;
    std::string name;                     // IFLA_IFNAME
    std::string alias;                    // IFLA_IFALIAS ("ip link set X alias ..."), empty when none
    std::string kind;                     // IFLA_INFO_KIND: "tun", "bridge", "veth"; empty for NICs
    std::optional<unsigned> master_index; // the bridge (or bond) it is a port of
    std::optional<TunInfo> tun;           // for kind "tun"
    std::optional<unsigned> link_index;   // IFLA_LINK: a macvtap's lower device, a veth's peer
    std::optional<uint32_t> macvlan_mode; // IFLA_MACVLAN_MODE (MACVLAN_MODE_*), for kinds macvlan/macvtap
    std::optional<MacAddress> mac;        // IFLA_ADDRESS, for Ethernet-like devices
    std::optional<uint32_t> mtu;          // IFLA_MTU
    bool up = false;                      // IFF_UP
    bool ethernet = false;                // ARPHRD_ETHER and not loopback: can carry a macvlan/macvtap
};

// Whether an interface of that name exists in this namespace.
[[nodiscard]] bool interface_exists(const std::string& name);
// Index, kind and master of an interface (RTM_GETLINK, no privilege);
// nullopt when there is none of that name.
Result<std::optional<LinkInfo>> find_link(const std::string& name);
// The same, failing with "interface 'x' does not exist" when absent.
Result<LinkInfo> query_link(const std::string& name);
// Every interface of this namespace (an RTM_GETLINK dump).
Result<std::vector<LinkInfo>> list_links();
// An RTM_NEWLINK's payload (ifinfomsg, then attributes) as a LinkInfo;
// nullopt when it is too short for the ifinfomsg.
[[nodiscard]] std::optional<LinkInfo> parse_link(std::span<const uint8_t> payload);
// The name of the interface with this index ("#N" if it is gone).
[[nodiscard]] std::string interface_name(unsigned index);

Result<bool> is_link_up(const std::string& name);
Result<void> set_link_up(const std::string& name);
Result<uint32_t> interface_mtu(const std::string& name);
Result<void> set_interface_mtu(const std::string& name, uint32_t mtu);
Result<MacAddress> interface_mac(const std::string& name);
Result<void> set_interface_mac(const std::string& name, const MacAddress& mac);

// Adds `name` to the existing bridge `bridge` (SIOCBRADDIF), after
// checking that `bridge` exists and is a bridge. Nothing to do (and no
// privilege needed) when it is already a port of that bridge; an error
// when it is a port of another one.
Result<void> add_to_bridge(const std::string& bridge, const std::string& name);

// Deletes a persistent tap: attaches to it, clears TUNSETPERSIST, closes.
Result<void> delete_persistent_tap(const std::string& name);

}  // namespace skiff::net
