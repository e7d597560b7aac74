// The host side of a guest network interface, prepared before the VM
// exists so that a missing tap or bridge is reported before /dev/kvm is
// opened, and nothing is left behind when start-up fails (a tap skiff
// created goes away with its fd).
#pragma once

#include "net/mac_address.h"
#include "net/net_config.h"
#include "net/tap.h"
#include "vmm/result.h"

#include <memory>
#include <string>

namespace skiff {

struct PreparedNetwork {
    net::NetConfig config;
    std::string name;  // "net0": the guest-facing device, for logs
    std::unique_ptr<net::Tap> tap;
    net::MacAddress mac;
    uint16_t mtu = 1500;  // the tap's, offered to the guest
};

// Opens (or creates, or takes over) the tap, adds it to the bridge, sets
// its MTU when asked and brings it up. `index` numbers the VM's interfaces;
// `instance` names the VM (for its default MAC addresses).
Result<PreparedNetwork> prepare_network(const net::NetConfig& config, unsigned index, std::string_view instance);

}  // namespace skiff
