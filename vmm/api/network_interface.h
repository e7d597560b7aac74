// From the API's NetworkInterface (skiff/config.h) to the VMM's NetConfig:
// the same checks as a --net option (net_config_from_items), then the
// interface's id and rate limiters.
#pragma once

#include "net/net_config.h"
#include "net/rate_limiter.h"
#include "skiff/config.h"
#include "vmm/result.h"

namespace skiff::api {

// Errors start with "network interface <iface_id>: ". host_dev_name is the
// tap (mode tap, vhost), the macvtap interface (macvtap) or the function's
// PCI address (vfio, unless pf/vf name the function: then host_dev_name is
// only a label and is not used).
Result<net::NetConfig> to_net_config(const NetworkInterface& interface);

// Firecracker's refill_time is in ms, as is refill_time_ms; an absent
// one_time_burst is 0.
net::RateLimiterConfig to_rate_limiter_config(const RateLimiter& limiter);

}  // namespace skiff::api
