// From a --net mode=tap configuration to a ready Tap: open, create or take
// over the tap, then do only the host-side changes the configuration asks
// for (MTU, bridge) and bring the link up if it is down.
//
// Privilege: creating a tap, changing its MTU, adding it to a bridge and
// bringing it up need CAP_NET_ADMIN; a persistent tap owned by the user
// that is already up, in its bridge, with the right MTU, needs none. When
// skiff cannot bring up a tap it did not create, it warns and carries on
// (frames are dropped until someone does), rather than refuse to start.
#pragma once

#include "net/net_config.h"
#include "net/tap.h"

#include <memory>

namespace skiff::net {

// Errors as from Tap::open() and add_to_bridge()/set_interface_mtu() in
// net/interface.h. A tap created here is removed again on failure.
Result<std::unique_ptr<Tap>> open_tap(const NetConfig& config);

}  // namespace skiff::net
