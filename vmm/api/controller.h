// What the REST API (and the config file) drive: one microVM's control
// plane. skiff's VmInstance implements it; tests and the fuzz target use a
// fake. Every call is made from the API thread and may race the VM's own
// threads: implementations are thread-safe.
//
// Pre-boot calls (boot source, machine config, PUT of an interface, logger,
// metrics, start) fail once the VM was started, post-boot calls (pause,
// resume, Ctrl-Alt-Del, PATCH of an interface) before it; the failure's
// message is the API's fault_message.
#pragma once

#include "skiff/config.h"

#include <string>

namespace skiff::api {

class Controller {
public:
    virtual ~Controller() = default;

    [[nodiscard]] virtual std::string id() const = 0;
    [[nodiscard]] virtual VmState state() const = 0;
    [[nodiscard]] virtual VmResources resources() const = 0;

    // Pre-boot.
    virtual Status set_boot_source(const BootSource& source) = 0;
    virtual Status set_machine_config(const MachineConfig& config) = 0;
    // Adds the interface, or replaces the one with the same iface_id.
    virtual Status set_network_interface(const NetworkInterface& interface) = 0;
    virtual Status set_logger(const LoggerConfig& logger) = 0;
    virtual Status set_metrics(const MetricsConfig& metrics) = 0;
    // InstanceStart: builds the VM and starts its vCPUs; returns when the
    // guest is running (or failed to start: the message says why).
    virtual Status start() = 0;

    // Post-boot.
    virtual Status pause() = 0;
    virtual Status resume() = 0;
    virtual Status send_ctrl_alt_del() = 0;
    virtual Status update_network_interface(const NetworkInterfaceUpdate& update) = 0;
    // Writes one metrics line now (needs PUT /metrics first).
    virtual Status flush_metrics() = 0;
};

}  // namespace skiff::api
