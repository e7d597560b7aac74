#include "vmm/api/json_model.h"

#include "net/mac_address.h"
#include "net/net_config.h"
#include "vmm/api/json_reader.h"
#include "vmm/api/json_sections.h"
#include "vmm/api/network_interface.h"
#include "vmm/vm_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace skiff::api {

namespace {

// refill_time is kept in nanoseconds by the data path: at most this many ms
// fit in 64 bits (Firecracker refuses the same overflow).
constexpr uint64_t kMaxRefillTimeMs = UINT64_MAX / 1'000'000;

// One of `names`, exactly; the error lists them.
template <size_t N>
Result<size_t> choose(const JsonObject& object, std::string_view key, const std::array<std::string_view, N>& names,
                      const std::string& value) {
    auto found = std::find(names.begin(), names.end(), value);
    if (found == names.end()) {
        return Error::format("field '{}': expected one of {}, got {}", object.field_path(key),
                             fmt::join(names, ", "), describe_json(nlohmann::json(value)));
    }
    return static_cast<size_t>(found - names.begin());
}

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

// A path to a file the VMM opens: a string, not empty.
Result<std::optional<std::string>> read_path(const JsonObject& object, std::string_view key) {
    auto path = TRY(object.optional_string(key));
    if (path && path->empty()) {
        return Error::format("field '{}' is empty: give a path or leave the field out", object.field_path(key));
    }
    return path;
}

constexpr std::array<std::string_view, 6> kMachineConfigFields{"vcpu_count", "mem_size_mib", "smt",
                                                               "cpu_template", "track_dirty_pages", "huge_pages"};

// Applies the machine-config fields `object` has to `config`.
Result<void> apply_machine_config_fields(const JsonObject& object, MachineConfig& config) {
    if (auto vcpus = TRY(object.optional_unsigned("vcpu_count", kMinVcpuCount, kMaxVcpuCount))) {
        config.vcpu_count = static_cast<uint32_t>(*vcpus);
    }
    if (auto memory = TRY(object.optional_unsigned("mem_size_mib", kMinMemoryMib, kMaxMemoryMib))) {
        config.mem_size_mib = static_cast<uint32_t>(*memory);
    }
    if (auto smt = TRY(object.optional_bool("smt"))) {
        config.smt = *smt;
    }
    if (auto cpu_template = TRY(object.optional_string("cpu_template"))) {
        if (cpu_template->empty()) {
            return Error{"field 'cpu_template' is empty: give \"None\", a template name or leave it out"};
        }
        config.cpu_template = *cpu_template;
    }
    if (auto track = TRY(object.optional_bool("track_dirty_pages"))) {
        if (*track) {
            return Error{"field 'track_dirty_pages': skiff does not implement dirty page tracking (it serves "
                         "snapshots, which skiff lacks): set it to false or leave it out"};
        }
        config.track_dirty_pages = false;
    }
    if (auto huge_pages = TRY(object.optional_string("huge_pages"))) {
        if (*huge_pages != "None") {
            return Error::format("field 'huge_pages': skiff does not implement huge pages (\"{}\"): set it to "
                                 "\"None\" or leave it out",
                                 *huge_pages);
        }
    }
    // Firecracker's rule: with SMT, two threads per core.
    if (config.smt && config.vcpu_count > 1 && config.vcpu_count % 2 != 0) {
        return Error::format("vcpu_count {} with smt true: give 1 or an even number, or set smt to false",
                             config.vcpu_count);
    }
    return {};
}

Result<MachineConfig> read_machine_config_object(const nlohmann::json& value) {
    auto object = TRY(JsonObject::make(value, "", kMachineConfigFields));
    // Both required (Firecracker's PUT); the rest take their defaults.
    TRY(object.required_unsigned("vcpu_count", kMinVcpuCount, kMaxVcpuCount));
    TRY(object.required_unsigned("mem_size_mib", kMinMemoryMib, kMaxMemoryMib));
    MachineConfig config;
    TRY(apply_machine_config_fields(object, config));
    return config;
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

Result<nlohmann::json> parse_body(std::string_view json) {
    if (json.empty()) {
        return Error{"the request needs a JSON body"};
    }
    return parse_json(json);
}

// Upper-case first letter, the rest lower: "warning" -> "Warning".
std::string capitalized(std::string text) {
    for (size_t i = 0; i < text.size(); ++i) {
        auto letter = static_cast<unsigned char>(text[i]);
        text[i] = static_cast<char>(i == 0 ? std::toupper(letter) : std::tolower(letter));
    }
    return text;
}

}  // namespace

Result<void> check_id(std::string_view id, std::string_view what) {
    bool valid_characters = std::all_of(id.begin(), id.end(), [](char character) {
        return std::isalnum(static_cast<unsigned char>(character)) != 0 || character == '_' || character == '-';
    });
    if (id.empty() || id.size() > kMaxIdLength || !valid_characters) {
        return Error::format("{} {} is not a valid id: use 1 to {} letters, digits, '_' or '-'", what,
                             nlohmann::json(std::string(id)).dump(-1, ' ', false,
                                                                  nlohmann::json::error_handler_t::replace),
                             kMaxIdLength);
    }
    return {};
}

Result<BootSource> read_boot_source(const nlohmann::json& value) {
    auto object = TRY(JsonObject::make(value, "", {"kernel_image_path", "boot_args", "initrd_path"}));
    BootSource source;
    source.kernel_image_path = TRY(object.required_string("kernel_image_path"));
    source.boot_args = TRY(object.optional_string("boot_args"));
    source.initrd_path = TRY(read_path(object, "initrd_path"));
    return source;
}

Result<MachineConfig> read_machine_config(const nlohmann::json& value) { return read_machine_config_object(value); }

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
        interface.mode = kModes[TRY(choose(object, "mode", kModes, *mode))];
    }
    constexpr std::array<std::string_view, 2> kTransports{"mmio", "pci"};
    if (auto transport = TRY(object.optional_string("transport"))) {
        interface.transport = kTransports[TRY(choose(object, "transport", kTransports, *transport))];
    }
    constexpr std::array<std::string_view, 4> kMacvtapModes{"bridge", "vepa", "private", "passthru"};
    if (auto macvtap_mode = TRY(object.optional_string("macvtap_mode"))) {
        interface.macvtap_mode = kMacvtapModes[TRY(choose(object, "macvtap_mode", kMacvtapModes, *macvtap_mode))];
    }
    interface.bridge = TRY(object.optional_string("bridge"));
    interface.link = TRY(object.optional_string("link"));
    interface.vhost = TRY(object.optional_bool("vhost"));
    interface.pf = TRY(object.optional_string("pf"));
    if (auto vf = TRY(object.optional_unsigned("vf", 0, 65535))) {
        interface.vf = static_cast<uint32_t>(*vf);
    }
    TRY(check_mode_fields(object, interface));
    if (interface.mode == "vfio") {
        interface.transport = "pci";
    }
    // The rest of --net's checks (interface names, PCI address, rate
    // limiters on a vhost data path).
    TRY(to_net_config(interface));
    return interface;
}

Result<LoggerConfig> read_logger(const nlohmann::json& value) {
    auto object =
        TRY(JsonObject::make(value, "", {"log_path", "level", "show_level", "show_log_origin", "module"}));
    LoggerConfig logger;
    logger.log_path = TRY(read_path(object, "log_path"));
    if (auto level = TRY(object.optional_string("level"))) {
        constexpr std::array<std::string_view, 6> kLevels{"Error", "Warning", "Info", "Debug", "Trace", "Off"};
        logger.level = kLevels[TRY(choose(object, "level", kLevels, capitalized(*level)))];
    }
    logger.show_level = TRY(object.optional_bool("show_level"));
    logger.show_log_origin = TRY(object.optional_bool("show_log_origin"));
    logger.module = TRY(object.optional_string("module"));
    return logger;
}

Result<MetricsConfig> read_metrics(const nlohmann::json& value) {
    auto object = TRY(JsonObject::make(value, "", {"metrics_path"}));
    MetricsConfig metrics;
    metrics.metrics_path = TRY(object.required_string("metrics_path"));
    if (metrics.metrics_path.empty()) {
        return Error{"field 'metrics_path' is empty: give the file or named pipe for the metrics"};
    }
    return metrics;
}

Result<BootSource> parse_boot_source(std::string_view json) { return read_boot_source(TRY(parse_body(json))); }

Result<MachineConfig> parse_machine_config(std::string_view json) {
    return read_machine_config(TRY(parse_body(json)));
}

Result<MachineConfig> apply_machine_config_patch(MachineConfig current, std::string_view json) {
    nlohmann::json value = TRY(parse_body(json));
    auto object = TRY(JsonObject::make(value, "", kMachineConfigFields));
    bool changes = std::any_of(kMachineConfigFields.begin(), kMachineConfigFields.end(),
                               [&](std::string_view field) { return object.has(field); });
    if (!changes) {  // {} or only nulls
        return Error::format("the PATCH changes nothing: give at least one of {}",
                             fmt::join(kMachineConfigFields, ", "));
    }
    TRY(apply_machine_config_fields(object, current));
    return current;
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

Result<LoggerConfig> parse_logger(std::string_view json) { return read_logger(TRY(parse_body(json))); }

Result<MetricsConfig> parse_metrics(std::string_view json) { return read_metrics(TRY(parse_body(json))); }

Result<RequestedVmState> parse_vm_state_patch(std::string_view json) {
    nlohmann::json value = TRY(parse_body(json));
    auto object = TRY(JsonObject::make(value, "", {"state"}));
    constexpr std::array<std::string_view, 2> kStates{"Paused", "Resumed"};
    std::string state = TRY(object.required_string("state"));
    size_t index = TRY(choose(object, "state", kStates, state));
    return index == 0 ? RequestedVmState::Paused : RequestedVmState::Resumed;
}

Result<ActionType> parse_action(std::string_view json) {
    nlohmann::json value = TRY(parse_body(json));
    auto object = TRY(JsonObject::make(value, "", {"action_type"}));
    constexpr std::array<std::string_view, 3> kActions{"InstanceStart", "SendCtrlAltDel", "FlushMetrics"};
    constexpr std::array<ActionType, 3> kTypes{ActionType::InstanceStart, ActionType::SendCtrlAltDel,
                                               ActionType::FlushMetrics};
    std::string action = TRY(object.required_string("action_type"));
    return kTypes[TRY(choose(object, "action_type", kActions, action))];
}

}  // namespace skiff::api
