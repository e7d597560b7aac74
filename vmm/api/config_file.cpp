// parse_config_file (json_model.h): Firecracker's --config-file.
#include "vmm/api/json_model.h"
#include "vmm/api/json_reader.h"
#include "vmm/api/json_sections.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

namespace skiff::api {

namespace {

struct Section {
    std::string_view key;
    std::string_view what;  // empty: skiff implements it
};

constexpr std::array kSections{
    Section{"boot-source", ""},
    Section{"machine-config", ""},
    Section{"network-interfaces", ""},
    Section{"logger", ""},
    Section{"metrics", ""},
    Section{"drives", "block devices"},
    Section{"vsock", "vsock devices"},
    Section{"balloon", "the balloon device"},
    Section{"mmds-config", "the metadata service (MMDS)"},
    Section{"entropy", "the entropy device"},
    Section{"cpu-config", "custom CPU templates"},
    Section{"pmem", "pmem devices"},
    Section{"memory-hotplug", "memory hot-plug"},
    Section{"serial", "serial console settings"},
};

std::array<std::string_view, kSections.size()> section_keys() {
    std::array<std::string_view, kSections.size()> keys{};
    std::transform(kSections.begin(), kSections.end(), keys.begin(),
                   [](const Section& section) { return section.key; });
    return keys;
}

// A section skiff lacks passes only when it configures nothing.
Result<void> check_unimplemented(const JsonObject& object) {
    for (const auto& section : kSections) {
        const nlohmann::json* value = object.find(section.key);
        if (section.what.empty() || value == nullptr) {
            continue;
        }
        bool nothing = (value->is_array() || value->is_object()) && value->empty();
        if (!(section.key == "drives" && value->is_array() && nothing)) {
            return Error::format("skiff does not implement \"{}\" ({}): remove that section{}", section.key,
                                 section.what, section.key == "drives" ? " or leave it an empty array" : "");
        }
    }
    return {};
}

Result<std::vector<NetworkInterface>> read_interfaces(const nlohmann::json& value) {
    if (!value.is_array()) {
        return Error::format("network-interfaces must be an array of interfaces, got {}", describe_json(value));
    }
    std::vector<NetworkInterface> interfaces;
    for (size_t index = 0; index < value.size(); ++index) {
        std::string where = fmt::format("network-interfaces[{}]", index);
        auto interface = TRY(read_network_interface(value[index]).context_error(where));
        bool duplicate = std::any_of(interfaces.begin(), interfaces.end(),
                                     [&](const NetworkInterface& seen) { return seen.iface_id == interface.iface_id; });
        if (duplicate) {
            return Error::format("{}: iface_id \"{}\" is used twice: give each interface its own", where,
                                 interface.iface_id);
        }
        interfaces.push_back(std::move(interface));
    }
    return interfaces;
}

}  // namespace

Result<VmResources> parse_config_file(std::string_view json) {
    nlohmann::json value = TRY(parse_json(json));
    static const auto kKeys = section_keys();
    auto object = TRY(JsonObject::make(value, "", kKeys).context_error("config file"));
    TRY(check_unimplemented(object));

    VmResources resources;
    if (const nlohmann::json* section = object.find("boot-source")) {
        resources.boot_source = TRY(read_boot_source(*section).context_error("boot-source"));
    }
    if (const nlohmann::json* section = object.find("machine-config")) {
        resources.machine_config = TRY(read_machine_config(*section).context_error("machine-config"));
    }
    if (const nlohmann::json* section = object.find("network-interfaces")) {
        resources.network_interfaces = TRY(read_interfaces(*section));
    }
    if (const nlohmann::json* section = object.find("logger")) {
        resources.logger = TRY(read_logger(*section).context_error("logger"));
    }
    if (const nlohmann::json* section = object.find("metrics")) {
        resources.metrics = TRY(read_metrics(*section).context_error("metrics"));
    }
    return resources;
}

}  // namespace skiff::api
