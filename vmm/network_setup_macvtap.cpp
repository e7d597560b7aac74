#include "vmm/network_setup.h"

namespace skiff::detail {

Result<void> prepare_macvtap_network(PreparedNetwork& prepared) {
    return Error::format("{}: mode={}{} is not available in this build yet", prepared.name,
                         net::net_mode_name(prepared.config.mode), prepared.config.vhost ? " with vhost=on" : "");
}

}  // namespace skiff::detail
