// The bodies of json_model.h other than the network interfaces'
// (json_network.cpp): boot source, machine config, logger, metrics, PATCH
// /vm, actions.
#include "vmm/api/json_model.h"

#include "vmm/api/json_reader.h"
#include "vmm/api/json_sections.h"
#include "vmm/vm_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace skiff::api {

namespace {

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
                                 printable_text(*huge_pages));
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

Result<LoggerConfig> read_logger(const nlohmann::json& value) {
    auto object =
        TRY(JsonObject::make(value, "", {"log_path", "level", "show_level", "show_log_origin", "module"}));
    LoggerConfig logger;
    logger.log_path = TRY(read_path(object, "log_path"));
    if (auto level = TRY(object.optional_string("level"))) {
        constexpr std::array<std::string_view, 6> kLevels{"Error", "Warning", "Info", "Debug", "Trace", "Off"};
        logger.level = kLevels[TRY(object.choice("level", kLevels, capitalized(*level)))];
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

Result<LoggerConfig> parse_logger(std::string_view json) { return read_logger(TRY(parse_body(json))); }

Result<MetricsConfig> parse_metrics(std::string_view json) { return read_metrics(TRY(parse_body(json))); }

Result<RequestedVmState> parse_vm_state_patch(std::string_view json) {
    nlohmann::json value = TRY(parse_body(json));
    auto object = TRY(JsonObject::make(value, "", {"state"}));
    constexpr std::array<std::string_view, 2> kStates{"Paused", "Resumed"};
    std::string state = TRY(object.required_string("state"));
    size_t index = TRY(object.choice("state", kStates, state));
    return index == 0 ? RequestedVmState::Paused : RequestedVmState::Resumed;
}

Result<ActionType> parse_action(std::string_view json) {
    nlohmann::json value = TRY(parse_body(json));
    auto object = TRY(JsonObject::make(value, "", {"action_type"}));
    constexpr std::array<std::string_view, 3> kActions{"InstanceStart", "SendCtrlAltDel", "FlushMetrics"};
    constexpr std::array<ActionType, 3> kTypes{ActionType::InstanceStart, ActionType::SendCtrlAltDel,
                                               ActionType::FlushMetrics};
    std::string action = TRY(object.required_string("action_type"));
    return kTypes[TRY(object.choice("action_type", kActions, action))];
}

}  // namespace skiff::api
