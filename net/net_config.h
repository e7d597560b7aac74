// One guest network interface as the user describes it: the value of one
// --net option, e.g. "mode=tap,ifname=tap0[,bridge=br0][,fd=N][,mac=MAC]
// [,mtu=N][,transport=mmio|pci]", parsed and checked into a NetConfig.
//
// The four modes are the four KVM network architectures: the in-process
// virtio-net data path on a tap, vhost_net (the kernel moves the packets),
// macvtap (a tap stacked on a NIC, in-process or vhost) and VFIO (an SR-IOV
// virtual function passed through). Each mode is a row in the tables of
// net_config.cpp: its name, the keys it accepts and its combination checks.
#pragma once

#include "net/mac_address.h"
#include "net/rate_limiter.h"
#include "vmm/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace skiff::net {

enum class NetMode {
    Tap,      // in-process virtio-net data path on a tap (IFF_VNET_HDR)
    Vhost,    // virtio-net with the data path in the kernel (/dev/vhost-net) on a tap
    Macvtap,  // virtio-net on the /dev/tapN of a macvtap interface, in-process or vhost
    Vfio,     // a PCI function (an SR-IOV VF) passed through with VFIO
};

// The macvtap interface's mode (IFLA_MACVLAN_MODE): how it forwards
// between its siblings on the same link.
enum class MacvtapMode { Bridge, Vepa, Private, Passthru };

enum class NetTransport { Mmio, Pci };

inline constexpr uint32_t kMinMtu = 68;     // the IPv4 minimum (RFC 791)
inline constexpr uint32_t kMaxMtu = 65535;  // the largest any interface takes (a macvtap's own limit)
// A tap's: the tun driver's 65535 less its 14-byte Ethernet header.
inline constexpr uint32_t kMaxTapMtu = 65535 - 14;

struct NetConfig {
    NetMode mode = NetMode::Tap;
    // The tap to open, or to create when no interface has that name. With
    // fd, optional: if given, the fd's interface must have this name.
    std::string ifname;
    // An existing bridge to add the tap to (no-op if it is already a port).
    std::optional<std::string> bridge;
    // An open tap fd handed to skiff by its caller (a jailer or container
    // runtime); skiff takes it over. Excludes bridge: the caller does that.
    std::optional<int> fd;
    // The guest's MAC address (always unicast); unset: default_mac_address().
    std::optional<MacAddress> mac;
    // Set on the tap when it differs, and offered to the guest; unset: the
    // tap's MTU is left as it is.
    std::optional<uint32_t> mtu;
    NetTransport transport = NetTransport::Mmio;

    // mode=macvtap. `ifname` (key name=) is the macvtap interface to use or
    // create; empty: skiff creates one with a name of its own.
    std::string link;  // the lower device (a NIC, an SR-IOV VF, a veth, ...)
    MacvtapMode macvtap_mode = MacvtapMode::Bridge;
    bool vhost = false;  // vhost=on: the kernel's vhost data path on the macvtap

    // mode=vfio: the PCI function, either by address ("0000:03:10.2", the
    // domain filled in when given as "03:10.2") or as virtual function
    // `vf` of the SR-IOV physical function whose interface is `pf`.
    std::string device;
    std::string pf;
    std::optional<uint32_t> vf;

    // The interface's name in the API and the metrics (Firecracker's
    // iface_id); empty: "netN" by its position.
    std::string id;
    // Limits on frames into the guest (rx) and out of it (tx); the default
    // limits nothing. Only the in-process data path (tap, macvtap without
    // vhost) can apply them: the kernel's vhost worker cannot be held back.
    RateLimiterConfig rx_rate_limiter;
    RateLimiterConfig tx_rate_limiter;
};

[[nodiscard]] inline bool limits_rate(const RateLimiterConfig& limiter) {
    return (limiter.bandwidth && limiter.bandwidth->size != 0) || (limiter.ops && limiter.ops->size != 0);
}

// The largest mtu= the mode's host interface takes (a macvtap's is also
// capped by its link's MTU, known only when it is created).
[[nodiscard]] inline uint32_t max_mtu(NetMode mode) { return mode == NetMode::Macvtap ? kMaxMtu : kMaxTapMtu; }

// Whether the mode's device is virtio-net (tap, vhost, macvtap) rather
// than a passed-through PCI function.
[[nodiscard]] inline bool is_virtio_mode(NetMode mode) { return mode != NetMode::Vfio; }
// Whether the kernel's vhost worker moves this interface's packets.
[[nodiscard]] inline bool uses_vhost(const NetConfig& config) {
    return config.mode == NetMode::Vhost || (config.mode == NetMode::Macvtap && config.vhost);
}

// Parses one --net value. Errors name the key and what is wrong with it,
// e.g. "--net: unknown key 'ifnmae' (valid keys for mode=tap: ifname,
// bridge, fd, mac, mtu, transport)".
Result<NetConfig> parse_net_config(std::string_view text);

// The same checks on key=value items that come from elsewhere (the API's
// network-interfaces body, the config file), "mode" among them. Errors
// start with `context` (e.g. "network interface eth0") instead of "--net".
Result<NetConfig> net_config_from_items(std::vector<std::pair<std::string, std::string>> items,
                                        std::string_view context);

// Whether the configuration can be applied: rate limits need the
// in-process data path.
Result<void> check_rate_limiters(const NetConfig& config, std::string_view context);

[[nodiscard]] std::string_view net_mode_name(NetMode mode);
[[nodiscard]] std::string_view net_transport_name(NetTransport transport);
[[nodiscard]] std::string_view macvtap_mode_name(MacvtapMode mode);

// Text for "--net help": the modes, their keys and an example.
[[nodiscard]] std::string net_config_help();

}  // namespace skiff::net
