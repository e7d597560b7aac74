#include "vmm/network_setup.h"

#include "net/interface.h"
#include "net/tap_setup.h"

#include <spdlog/spdlog.h>

namespace skiff {

Result<PreparedNetwork> prepare_network(const net::NetConfig& config, unsigned index, std::string_view instance) {
    PreparedNetwork prepared;
    prepared.config = config;
    prepared.name = config.id.empty() ? fmt::format("net{}", index) : config.id;
    prepared.mac = config.mac.value_or(net::default_mac_address(instance, static_cast<uint8_t>(index)));
    switch (config.mode) {
        case net::NetMode::Tap:
        case net::NetMode::Vhost:
            TRY(detail::prepare_tap_network(prepared));
            break;
        case net::NetMode::Macvtap:
            TRY(detail::prepare_macvtap_network(prepared));
            break;
        case net::NetMode::Vfio:
            TRY(detail::prepare_vfio_network(prepared));
            break;
    }
    if (net::uses_vhost(config)) {
        TRY(detail::prepare_vhost(prepared));
    }
    return prepared;
}

namespace detail {

Result<void> prepare_tap_network(PreparedNetwork& prepared) {
    const net::NetConfig& config = prepared.config;
    prepared.tap = TRY(net::open_tap(config).context_error(prepared.name));
    uint32_t mtu = TRY(net::interface_mtu(prepared.tap->name()));
    prepared.mtu = static_cast<uint16_t>(std::min<uint32_t>(mtu, 65535));
    spdlog::info("{}: tap {}{}{}, guest MAC {}, MTU {}, offloads csum={} tso4={} tso6={}", prepared.name,
                 prepared.tap->name(), prepared.tap->created() ? " (created)" : "",
                 config.bridge ? " on bridge " + *config.bridge : "", prepared.mac.to_string(), prepared.mtu,
                 prepared.tap->supported_offloads().checksum, prepared.tap->supported_offloads().tso4,
                 prepared.tap->supported_offloads().tso6);
    return {};
}

}  // namespace detail

}  // namespace skiff
