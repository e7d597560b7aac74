#include "vmm/network_setup.h"

#include "net/interface.h"
#include "net/macvtap.h"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace skiff::detail {

// The macvtap and its /dev/tapN as the virtio-net backend. The guest's MAC
// is the macvtap's (see net/macvtap.h): a created one gets mac= or skiff's
// default (already in prepared.mac); an existing one keeps its own unless
// mac= is given.
Result<void> prepare_macvtap_network(PreparedNetwork& prepared) {
    const net::NetConfig& config = prepared.config;
    net::MacvtapOptions options;
    options.link = config.link;
    options.name = config.ifname;
    options.mode = config.macvtap_mode;
    options.mtu = config.mtu;
    options.mac = config.mac;
    bool exists = !config.ifname.empty() && net::interface_exists(config.ifname);
    if (!exists && config.macvtap_mode != net::MacvtapMode::Passthru) {
        options.mac = prepared.mac;  // mac= or the default
    }
    prepared.macvtap = TRY(net::Macvtap::open(options).context_error(prepared.name));
    prepared.tap = prepared.macvtap->take_tap();
    prepared.mac = prepared.macvtap->mac();
    prepared.mtu = static_cast<uint16_t>(std::min<uint32_t>(prepared.macvtap->mtu(), 65535));
    spdlog::info("{}: macvtap {}{} on {}, {} mode, guest MAC {}, MTU {}, offloads csum={} tso4={} tso6={}",
                 prepared.name, prepared.macvtap->name(), prepared.macvtap->created() ? " (created)" : "",
                 config.link.empty() ? std::string("its link") : config.link,
                 net::macvtap_mode_name(prepared.macvtap->mode()), prepared.mac.to_string(), prepared.mtu,
                 prepared.tap->supported_offloads().checksum, prepared.tap->supported_offloads().tso4,
                 prepared.tap->supported_offloads().tso6);
    return {};
}

}  // namespace skiff::detail
