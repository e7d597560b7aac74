#include "vmm/network_setup.h"

#include "net/interface.h"

#include <spdlog/spdlog.h>

namespace skiff {

Result<PreparedNetwork> prepare_network(const net::NetConfig& config, unsigned index, std::string_view instance) {
    PreparedNetwork prepared;
    prepared.config = config;
    prepared.name = fmt::format("net{}", index);
    net::TapOptions options;
    options.ifname = config.ifname;
    if (config.fd) {
        options.fd = UniqueFd(*config.fd);
    }
    prepared.tap = TRY(net::Tap::open(std::move(options)).context_error(prepared.name));
    const std::string& tap = prepared.tap->name();
    if (config.bridge) {
        TRY(net::add_to_bridge(*config.bridge, tap).context_error(prepared.name));
    }
    if (config.mtu) {
        uint32_t current = TRY(net::interface_mtu(tap));
        if (current != *config.mtu) {
            TRY(net::set_interface_mtu(tap, *config.mtu).context_error(prepared.name));
        }
    }
    uint32_t mtu = TRY(net::interface_mtu(tap));
    prepared.mtu = static_cast<uint16_t>(std::min<uint32_t>(mtu, 65535));
    if (!TRY(net::is_link_up(tap))) {
        TRY(net::set_link_up(tap).context_error(prepared.name));
    }
    prepared.mac = config.mac.value_or(net::default_mac_address(instance, static_cast<uint8_t>(index)));
    spdlog::info("{}: tap {}{}{}, guest MAC {}, MTU {}, offloads csum={} tso4={} tso6={}", prepared.name, tap,
                 prepared.tap->created() ? " (created)" : "", config.bridge ? " on bridge " + *config.bridge : "",
                 prepared.mac.to_string(), prepared.mtu, prepared.tap->supported_offloads().checksum,
                 prepared.tap->supported_offloads().tso4, prepared.tap->supported_offloads().tso6);
    return prepared;
}

}  // namespace skiff
