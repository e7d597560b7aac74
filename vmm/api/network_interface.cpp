#include "vmm/api/network_interface.h"

#include <fmt/format.h>

#include <string>
#include <utility>
#include <vector>

namespace skiff::api {

namespace {

using Items = std::vector<std::pair<std::string, std::string>>;

// The --net key host_dev_name stands for in `mode` ("" for none).
std::string host_dev_name_key(const NetworkInterface& interface) {
    if (interface.mode == "tap" || interface.mode == "vhost") {
        return "ifname";
    }
    if (interface.mode == "macvtap") {
        return "name";
    }
    if (interface.mode == "vfio" && !interface.pf && !interface.vf) {
        return "device";
    }
    return "";
}

Items net_items(const NetworkInterface& interface) {
    Items items{{"mode", interface.mode}};
    std::string key = host_dev_name_key(interface);
    if (!key.empty() && !interface.host_dev_name.empty()) {
        items.emplace_back(key, interface.host_dev_name);
    }
    if (interface.guest_mac) {
        items.emplace_back("mac", *interface.guest_mac);
    }
    if (interface.mtu) {
        items.emplace_back("mtu", std::to_string(*interface.mtu));
    }
    // A VFIO function is always on PCI; --net has no transport key for it.
    if (interface.mode != "vfio") {
        items.emplace_back("transport", interface.transport);
    }
    auto add = [&](const char* name, const std::optional<std::string>& value) {
        if (value) {
            items.emplace_back(name, *value);
        }
    };
    add("bridge", interface.bridge);
    add("link", interface.link);
    add("macvtap-mode", interface.macvtap_mode);
    add("pf", interface.pf);
    if (interface.vhost) {
        items.emplace_back("vhost", *interface.vhost ? "on" : "off");
    }
    if (interface.vf) {
        items.emplace_back("vf", std::to_string(*interface.vf));
    }
    return items;
}

net::TokenBucketConfig to_bucket_config(const TokenBucket& bucket) {
    return net::TokenBucketConfig{
        .size = bucket.size, .one_time_burst = bucket.one_time_burst.value_or(0), .refill_time_ms = bucket.refill_time};
}

}  // namespace

Result<net::NetConfig> to_net_config(const NetworkInterface& interface) {
    std::string context = fmt::format("network interface {}", interface.iface_id);
    net::NetConfig config = TRY(net::net_config_from_items(net_items(interface), context));
    config.id = interface.iface_id;
    if (interface.rx_rate_limiter) {
        config.rx_rate_limiter = to_rate_limiter_config(*interface.rx_rate_limiter);
    }
    if (interface.tx_rate_limiter) {
        config.tx_rate_limiter = to_rate_limiter_config(*interface.tx_rate_limiter);
    }
    TRY(net::check_rate_limiters(config, context));
    return config;
}

net::RateLimiterConfig to_rate_limiter_config(const RateLimiter& limiter) {
    net::RateLimiterConfig config;
    if (limiter.bandwidth) {
        config.bandwidth = to_bucket_config(*limiter.bandwidth);
    }
    if (limiter.ops) {
        config.ops = to_bucket_config(*limiter.ops);
    }
    return config;
}

}  // namespace skiff::api
