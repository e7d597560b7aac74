// One guest network interface as the user describes it: the value of one
// --net option, "mode=tap,ifname=tap0[,bridge=br0][,fd=N][,mac=MAC]
// [,mtu=N][,transport=mmio|pci]", parsed and checked into a NetConfig.
//
// Modes are an enum with one row per mode in the key table of
// net_config.cpp: a new mode (vhost, macvtap, vfio) adds its enumerator,
// its name, the keys it accepts and its own combination checks.
#pragma once

#include "net/mac_address.h"
#include "vmm/result.h"

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::net {

enum class NetMode {
    Tap,  // in-process virtio-net data path on a tap (IFF_VNET_HDR)
};

enum class NetTransport { Mmio, Pci };

inline constexpr uint32_t kMinMtu = 68;     // the IPv4 minimum (RFC 791)
inline constexpr uint32_t kMaxMtu = 65535;  // the largest the tap driver takes

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
};

// Parses one --net value. Errors name the key and what is wrong with it,
// e.g. "--net: unknown key 'ifnmae' (valid keys for mode=tap: ifname,
// bridge, fd, mac, mtu, transport)".
Result<NetConfig> parse_net_config(std::string_view text);

[[nodiscard]] std::string_view net_mode_name(NetMode mode);
[[nodiscard]] std::string_view net_transport_name(NetTransport transport);

// Text for "--net help": the modes, their keys and an example.
[[nodiscard]] std::string net_config_help();

}  // namespace skiff::net
