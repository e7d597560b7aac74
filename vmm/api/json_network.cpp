// The network interface bodies of json_model.h: PUT and PATCH
// /network-interfaces/{id}, and the config file's "network-interfaces".
#include "net/mac_address.h"
#include "net/net_config.h"
#include "vmm/api/json_model.h"
#include "vmm/api/json_reader.h"
#include "vmm/api/json_sections.h"
#include "vmm/api/network_interface.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <iterator>
#include <vector>

namespace skiff::api {

namespace {

// refill_time is kept in nanoseconds by the data path: at most this many ms
// fit in 64 bits (Firecracker refuses the same overflow).
constexpr uint64_t kMaxRefillTimeMs = UINT64_MAX / 1'000'000;

Result<TokenBucket> read_token_bucket(const nlohmann::json& value, std::string path) {
    auto object = TRY(JsonObject::make(value, std::move(path), {"size", "one_time_burst", "refill_time"}));
    TokenBucket bucket;
    bucket.size = TRY(object.required_unsigned("size", 0, UINT64_MAX));
    bucket.one_time_burst = TRY(object.optional_unsigned("one_time_burst", 0, UINT64_MAX));
    bucket.refill_time = TRY(object.required_unsigned("refill_time", 0, kMaxRefillTimeMs));
    if (bucket.size > 0 && bucket.refill_time == 0) {
        return Error::format("field '{}' must be above 0 when size is {} (the ms to refill the bucket)",
                             object.field_path("refill_time"), bucket.size);
    }
    return bucket;
}

Result<std::optional<RateLimiter>> read_rate_limiter(const JsonObject& parent, std::string_view key) {
    const nlohmann::json* value = parent.find(key);
    if (value == nullptr) {
        return std::optional<RateLimiter>();
    }
    std::string path = parent.field_path(key);
    auto object = TRY(JsonObject::make(*value, path, {"bandwidth", "ops"}));
    RateLimiter limiter;
    if (const nlohmann::json* bandwidth = object.find("bandwidth")) {
        limiter.bandwidth = TRY(read_token_bucket(*bandwidth, object.field_path("bandwidth")));
    }
    if (const nlohmann::json* ops = object.find("ops")) {
        limiter.ops = TRY(read_token_bucket(*ops, object.field_path("ops")));
    }
    return std::optional<RateLimiter>(limiter);
}

Result<std::string> read_id(const JsonObject& object) {
    std::string id = TRY(object.required_string("iface_id"));
    TRY(check_id(id, "iface_id"));
    return id;
}

// The skiff fields that only some modes take.
struct ModeField {
    std::string_view field;
    std::array<std::string_view, 3> modes;  // "" pads
};

constexpr std::array kModeFields{
    ModeField{"bridge", {"tap", "vhost", ""}},  ModeField{"link", {"macvtap", "", ""}},
    ModeField{"macvtap_mode", {"macvtap", "", ""}}, ModeField{"vhost", {"macvtap", "", ""}},
    ModeField{"pf", {"vfio", "", ""}},          ModeField{"vf", {"vfio", "", ""}},
    ModeField{"mtu", {"tap", "vhost", "macvtap"}},
};

Result<void> check_mode_fields(const JsonObject& object, const NetworkInterface& interface) {
    for (const auto& rule : kModeFields) {
        bool taken = std::find(rule.modes.begin(), rule.modes.end(), interface.mode) != rule.modes.end();
        if (object.has(rule.field) && !taken) {
            std::vector<std::string_view> modes;
            std::copy_if(rule.modes.begin(), rule.modes.end(), std::back_inserter(modes),
                         [](std::string_view mode) { return !mode.empty(); });
            return Error::format("field '{}' is for mode {} only (this interface's mode is {})", rule.field,
                                 fmt::join(modes, " or "), interface.mode);
        }
    }
    if (interface.mode == "tap" || interface.mode == "vhost") {
        if (interface.host_dev_name.empty()) {
            return Error::format("field 'host_dev_name' is empty: mode {} needs the tap's name", interface.mode);
        }
    } else if (interface.mode == "macvtap") {
        if (interface.host_dev_name.empty() && !interface.link) {
            return Error{"mode macvtap needs 'link' (the interface to stack a new macvtap on) or 'host_dev_name' "
                         "(an existing macvtap)"};
        }
    } else if (interface.mode == "vfio") {
        if (interface.pf.has_value() != interface.vf.has_value()) {
            return Error{"mode vfio: give 'pf' and 'vf' together (the VF's number on that physical function)"};
        }
        if (!interface.pf && interface.host_dev_name.empty()) {
            return Error{"mode vfio needs 'host_dev_name' (the function's PCI address, e.g. 0000:03:10.2) or "
                         "'pf' and 'vf'"};
        }
        if (object.has("transport") && interface.transport != "pci") {
            return Error{"field 'transport': a VFIO function is always on PCI (give \"pci\" or leave it out)"};
        }
    }
    return {};
}

Result<void> check_guest_mac(const std::string& text) {
    auto mac = net::MacAddress::parse(text);
    if (!mac.ok()) {
        return Error{"field 'guest_mac': " + mac.error().message};
    }
    if (mac->is_multicast() || mac->is_zero()) {
        return Error::format("field 'guest_mac': {} is not a unicast interface address (the first byte must be "
                             "even and the address not all zero), e.g. 02:12:34:56:78:9a",
                             text);
    }
    return {};
}

}  // namespace

Result<NetworkInterface> read_network_interface(const nlohmann::json& value) {
    auto object = TRY(JsonObject::make(value, "",
                                       {"iface_id", "host_dev_name", "guest_mac", "mtu", "rx_rate_limiter",
                                        "tx_rate_limiter", "mode", "transport", "bridge", "link", "macvtap_mode",
                                        "vhost", "pf", "vf"}));
    NetworkInterface interface;
    interface.iface_id = TRY(read_id(object));
    interface.host_dev_name = TRY(object.required_string("host_dev_name"));
    interface.guest_mac = TRY(object.optional_string("guest_mac"));
    if (interface.guest_mac) {
        TRY(check_guest_mac(*interface.guest_mac));
    }
    if (auto mtu = TRY(object.optional_unsigned("mtu", net::kMinMtu, net::kMaxMtu))) {
        interface.mtu = static_cast<uint32_t>(*mtu);
    }
    interface.rx_rate_limiter = TRY(read_rate_limiter(object, "rx_rate_limiter"));
    interface.tx_rate_limiter = TRY(read_rate_limiter(object, "tx_rate_limiter"));

    constexpr std::array<std::string_view, 4> kModes{"tap", "vhost", "macvtap", "vfio"};
    if (auto mode = TRY(object.optional_string("mode"))) {
        interface.mode = kModes[TRY(object.choice("mode", kModes, *mode))];
    }
    constexpr std::array<std::string_view, 2> kTransports{"mmio", "pci"};
    if (auto transport = TRY(object.optional_string("transport"))) {
        interface.transport = kTransports[TRY(object.choice("transport", kTransports, *transport))];
    }
    constexpr std::array<std::string_view, 4> kMacvtapModes{"bridge", "vepa", "private", "passthru"};
    if (auto macvtap_mode = TRY(object.optional_string("macvtap_mode"))) {
        interface.macvtap_mode = kMacvtapModes[TRY(object.choice("macvtap_mode", kMacvtapModes, *macvtap_mode))];
    }
    interface.bridge = TRY(object.optional_string("bridge"));
    interface.link = TRY(object.optional_string("link"));
    interface.vhost = TRY(object.optional_bool("vhost"));
    interface.pf = TRY(object.optional_string("pf"));
    if (auto vf = TRY(object.optional_unsigned("vf", 0, 65535))) {
        interface.vf = static_cast<uint32_t>(*vf);
    }
    TRY(check_mode_fields(object, interface));
    if (interface.mtu && interface.mode != "macvtap" && *interface.mtu > net::kMaxTapMtu) {
        return Error::format("field 'mtu': {} is above {}, the most a tap takes (its Ethernet header must fit in "
                             "65535 bytes)",
                             *interface.mtu, net::kMaxTapMtu);
    }
    if (interface.mode == "vfio") {
        interface.transport = "pci";
    }
    // The rest of --net's checks (interface names, PCI address, rate
    // limiters on a vhost data path).
    TRY(to_net_config(interface));
    return interface;
}

Result<NetworkInterface> parse_network_interface(std::string_view json) {
    return read_network_interface(TRY(parse_body(json)));
}

Result<NetworkInterfaceUpdate> parse_network_interface_update(std::string_view json) {
    nlohmann::json value = TRY(parse_body(json));
    auto object = TRY(JsonObject::make(value, "", {"iface_id", "rx_rate_limiter", "tx_rate_limiter"}));
    NetworkInterfaceUpdate update;
    update.iface_id = TRY(read_id(object));
    update.rx_rate_limiter = TRY(read_rate_limiter(object, "rx_rate_limiter"));
    update.tx_rate_limiter = TRY(read_rate_limiter(object, "tx_rate_limiter"));
    return update;
}

}  // namespace skiff::api
