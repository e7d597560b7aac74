#include "net/tap_setup.h"

#include "net/interface.h"

#include <spdlog/spdlog.h>

namespace skiff::net {

Result<std::unique_ptr<Tap>> open_tap(const NetConfig& config) {
    TapOptions options;
    options.ifname = config.ifname;
    if (config.fd) {
        options.fd = UniqueFd(*config.fd);
    }
    auto tap = TRY(Tap::open(std::move(options)));
    const std::string& name = tap->name();

    if (config.mtu && TRY(interface_mtu(name)) != *config.mtu) {
        TRY(set_interface_mtu(name, *config.mtu));
    }
    if (config.bridge) {
        TRY(add_to_bridge(*config.bridge, name));
    }
    if (!TRY(is_link_up(name))) {
        auto up = set_link_up(name);
        if (!up) {
            if (tap->created()) {
                return up.release_error();
            }
            spdlog::warn("{}; until it is up, the guest's frames are dropped", up.error().message);
        }
    }
    return tap;
}

}  // namespace skiff::net
