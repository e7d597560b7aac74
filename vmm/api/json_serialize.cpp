// The to_json functions of json_model.h: the model in Firecracker's shapes.
#include "vmm/api/json_model.h"

namespace skiff::api {

namespace {

template <typename T>
void put_optional(nlohmann::json& object, const char* key, const std::optional<T>& value) {
    if (value) {
        object[key] = *value;
    }
}

nlohmann::json bucket_json(const TokenBucket& bucket) {
    nlohmann::json object{{"size", bucket.size}, {"refill_time", bucket.refill_time}};
    put_optional(object, "one_time_burst", bucket.one_time_burst);
    return object;
}

nlohmann::json limiter_json(const RateLimiter& limiter) {
    nlohmann::json object = nlohmann::json::object();
    if (limiter.bandwidth) {
        object["bandwidth"] = bucket_json(*limiter.bandwidth);
    }
    if (limiter.ops) {
        object["ops"] = bucket_json(*limiter.ops);
    }
    return object;
}

nlohmann::json interface_json(const NetworkInterface& interface) {
    nlohmann::json object{{"iface_id", interface.iface_id},
                          {"host_dev_name", interface.host_dev_name},
                          {"mode", interface.mode}};
    put_optional(object, "guest_mac", interface.guest_mac);
    put_optional(object, "mtu", interface.mtu);
    if (interface.rx_rate_limiter) {
        object["rx_rate_limiter"] = limiter_json(*interface.rx_rate_limiter);
    }
    if (interface.tx_rate_limiter) {
        object["tx_rate_limiter"] = limiter_json(*interface.tx_rate_limiter);
    }
    if (interface.mode != "vfio") {  // always PCI
        object["transport"] = interface.transport;
    }
    put_optional(object, "bridge", interface.bridge);
    put_optional(object, "link", interface.link);
    put_optional(object, "macvtap_mode", interface.macvtap_mode);
    put_optional(object, "vhost", interface.vhost);
    put_optional(object, "pf", interface.pf);
    put_optional(object, "vf", interface.vf);
    return object;
}

nlohmann::json boot_source_json(const BootSource& source) {
    nlohmann::json object{{"kernel_image_path", source.kernel_image_path}};
    put_optional(object, "boot_args", source.boot_args);
    put_optional(object, "initrd_path", source.initrd_path);
    return object;
}

nlohmann::json logger_json(const LoggerConfig& logger) {
    nlohmann::json object = nlohmann::json::object();
    put_optional(object, "log_path", logger.log_path);
    put_optional(object, "level", logger.level);
    put_optional(object, "show_level", logger.show_level);
    put_optional(object, "show_log_origin", logger.show_log_origin);
    put_optional(object, "module", logger.module);
    return object;
}

}  // namespace

nlohmann::json to_json(const MachineConfig& config) {
    nlohmann::json object{{"vcpu_count", config.vcpu_count},
                          {"mem_size_mib", config.mem_size_mib},
                          {"smt", config.smt},
                          {"track_dirty_pages", config.track_dirty_pages}};
    put_optional(object, "cpu_template", config.cpu_template);
    return object;
}

nlohmann::json to_json(const VmResources& resources) {
    nlohmann::json interfaces = nlohmann::json::array();
    for (const auto& interface : resources.network_interfaces) {
        interfaces.push_back(interface_json(interface));
    }
    // Firecracker's FullVmConfiguration lists every section; those skiff
    // lacks are null (drives an empty array), as in a Firecracker without them.
    return nlohmann::json{
        {"balloon", nullptr},
        {"drives", nlohmann::json::array()},
        {"boot-source", resources.boot_source ? boot_source_json(*resources.boot_source) : nlohmann::json()},
        {"cpu-config", nullptr},
        {"logger", resources.logger ? logger_json(*resources.logger) : nlohmann::json()},
        {"machine-config", to_json(resources.machine_config)},
        {"metrics", resources.metrics ? nlohmann::json{{"metrics_path", resources.metrics->metrics_path}}
                                      : nlohmann::json()},
        {"mmds-config", nullptr},
        {"network-interfaces", interfaces},
        {"vsock", nullptr},
        {"entropy", nullptr},
    };
}

nlohmann::json instance_info_json(std::string_view id, VmState state) {
    return nlohmann::json{
        {"app_name", "skiff"}, {"id", id}, {"state", vm_state_name(state)}, {"vmm_version", SKIFF_VERSION}};
}

std::string dump_json(const nlohmann::json& value) {
    return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace skiff::api
