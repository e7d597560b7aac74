// The JSON of Firecracker's API and config file, read into and written from
// skiff/config.h's model (field names, types and limits as in Firecracker's
// swagger file, src/firecracker/swagger/firecracker.yaml).
//
// Reading is strict, as Firecracker's is: an unknown field, a wrong type or
// a value out of range is an Error whose one-line message names the field
// and what it takes. Values skiff cannot honour (dirty page tracking, huge
// pages) are refused with a message that says so. None of these functions
// throws.
#pragma once

#include "skiff/config.h"
#include "vmm/result.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string_view>

namespace skiff::api {

// Firecracker's limits (vcpu_count, mtu) and skiff's own (memory).
inline constexpr uint32_t kMinVcpuCount = 1;
inline constexpr uint32_t kMaxVcpuCount = 32;
// Firecracker's iface_id: 1 to 64 characters.
inline constexpr size_t kMaxIdLength = 64;

// PUT /boot-source: kernel_image_path (required; "" boots skiff's embedded
// test guest), boot_args, initrd_path.
Result<BootSource> parse_boot_source(std::string_view json);

// PUT /machine-config: vcpu_count and mem_size_mib required; fields left
// out take their defaults.
Result<MachineConfig> parse_machine_config(std::string_view json);
// PATCH /machine-config: only the fields given change; at least one must be.
Result<MachineConfig> apply_machine_config_patch(MachineConfig current, std::string_view json);

// PUT /network-interfaces/{id}: Firecracker's fields plus skiff's (mode,
// transport, bridge, link, macvtap_mode, vhost, pf, vf), checked as a whole
// (the same checks as --net).
Result<NetworkInterface> parse_network_interface(std::string_view json);
// PATCH /network-interfaces/{id}: iface_id and new rate limiters.
Result<NetworkInterfaceUpdate> parse_network_interface_update(std::string_view json);

// PUT /logger. The level is case-insensitive and comes back capitalized
// ("Error", "Warning", "Info", "Debug", "Trace", "Off").
Result<LoggerConfig> parse_logger(std::string_view json);
// PUT /metrics.
Result<MetricsConfig> parse_metrics(std::string_view json);

// PATCH /vm: {"state": "Paused" | "Resumed"}.
enum class RequestedVmState { Paused, Resumed };
Result<RequestedVmState> parse_vm_state_patch(std::string_view json);

// PUT /actions: {"action_type": ...}.
enum class ActionType { InstanceStart, SendCtrlAltDel, FlushMetrics };
Result<ActionType> parse_action(std::string_view json);

// Firecracker's --config-file: "boot-source", "machine-config",
// "network-interfaces" (an array), "logger", "metrics". A section skiff does
// not implement ("drives", "vsock", "balloon", ...) is an error unless it is
// null or, for "drives", an empty array (Firecracker's files usually have
// "drives": []).
Result<VmResources> parse_config_file(std::string_view json);

// Whether `id` is a valid iface_id: 1 to kMaxIdLength ASCII letters, digits,
// '_' or '-'. The error names `what` ("iface_id").
Result<void> check_id(std::string_view id, std::string_view what);

// GET /vm/config, in Firecracker's FullVmConfiguration shape (sections
// skiff lacks are null, "drives" is empty): parse_config_file reads it back.
nlohmann::json to_json(const VmResources& resources);
// GET /machine-config.
nlohmann::json to_json(const MachineConfig& config);
// GET /: Firecracker's InstanceInfo.
nlohmann::json instance_info_json(std::string_view id, VmState state);

// For a response body: serialized, invalid UTF-8 replaced (never throws).
std::string dump_json(const nlohmann::json& value);

}  // namespace skiff::api
