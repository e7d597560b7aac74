// The model read from an already parsed JSON value: what the request bodies
// (json_model.cpp, json_network.cpp) and the config file's sections
// (config_file.cpp) share. Internal to vmm/api.
#pragma once

#include "skiff/config.h"
#include "vmm/result.h"

#include <nlohmann/json.hpp>

namespace skiff::api {

Result<BootSource> read_boot_source(const nlohmann::json& value);
Result<MachineConfig> read_machine_config(const nlohmann::json& value);
Result<NetworkInterface> read_network_interface(const nlohmann::json& value);
Result<LoggerConfig> read_logger(const nlohmann::json& value);
Result<MetricsConfig> read_metrics(const nlohmann::json& value);

}  // namespace skiff::api
