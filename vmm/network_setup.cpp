#include "vmm/network_setup.h"

#include "net/interface.h"
#include "net/tap_setup.h"

#include <spdlog/spdlog.h>

namespace skiff {

Result<PreparedNetwork> prepare_network(const net::NetConfig& config, unsigned index, std::string_view instance) {
    PreparedNetwork prepared;
    prepared.config = config;
    prepared.name = fmt::format("net{}", index);
    if (config.mode != net::NetMode::Tap) {
        return Error::format("{}: mode={} is not available in this build yet", prepared.name,
                             net::net_mode_name(config.mode));
    }
    prepared.tap = TRY(net::open_tap(config).context_error(prepared.name));
    uint32_t mtu = TRY(net::interface_mtu(prepared.tap->name()));
    prepared.mtu = static_cast<uint16_t>(std::min<uint32_t>(mtu, 65535));
    prepared.mac = config.mac.value_or(net::default_mac_address(instance, static_cast<uint8_t>(index)));
    spdlog::info("{}: tap {}{}{}, guest MAC {}, MTU {}, offloads csum={} tso4={} tso6={}", prepared.name,
                 prepared.tap->name(),
                 prepared.tap->created() ? " (created)" : "", config.bridge ? " on bridge " + *config.bridge : "",
                 prepared.mac.to_string(), prepared.mtu, prepared.tap->supported_offloads().checksum,
                 prepared.tap->supported_offloads().tso4, prepared.tap->supported_offloads().tso6);
    return prepared;
}

}  // namespace skiff
