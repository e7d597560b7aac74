// One microVM's control plane: its configuration before boot (set piece by
// piece through the REST API, from a config file, or all at once by
// `skiff run`), the start, pause/resume, run-time changes, metrics, and the
// wait for its end. The Machine it builds runs on a thread of its own, so
// every call here returns promptly and may come from any thread.
//
// The REST API drives it through api::Controller; libskiff's skiff::Vm is a
// thin wrapper; the skiff binary uses it for both of its modes.
#pragma once

#include "skiff/config.h"
#include "vmm/api/controller.h"
#include "vmm/machine.h"
#include "vmm/vm_config.h"

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <thread>

namespace skiff {

struct VmInstanceOptions {
    std::string id = "anonymous-instance";
    Machine::Clock::time_point process_start = Machine::Clock::now();
    // Booted when the boot source names no kernel (skiff's test guest).
    std::span<const std::byte> default_kernel;
    // InstanceStart needs a PUT /boot-source first (Firecracker's rule);
    // the library boots the default kernel without one.
    bool require_boot_source = true;
    // What the API does not set: the serial console, host quirks, the boot
    // protocol, a timeout. The kernel, command line, vCPUs, memory and
    // interfaces in it are overridden by the API's resources.
    VmConfig base;
};

class VmInstance final : public api::Controller {
public:
    explicit VmInstance(VmInstanceOptions options);
    ~VmInstance() override;
    VmInstance(const VmInstance&) = delete;
    VmInstance& operator=(const VmInstance&) = delete;

    // api::Controller.
    [[nodiscard]] std::string id() const override;
    [[nodiscard]] VmState state() const override;
    [[nodiscard]] VmResources resources() const override;
    Status set_boot_source(const BootSource& source) override;
    Status set_machine_config(const MachineConfig& config) override;
    Status set_network_interface(const NetworkInterface& interface) override;
    Status set_logger(const LoggerConfig& logger) override;
    Status set_metrics(const MetricsConfig& metrics) override;
    Status start() override;
    Status pause() override;
    Status resume() override;
    Status send_ctrl_alt_del() override;
    Status update_network_interface(const NetworkInterfaceUpdate& update) override;
    Status flush_metrics() override;

    // Before start: the serial console and a timeout (what the API leaves
    // to the VMM's own flags).
    Status set_console(const SerialConfig& serial);
    Status set_timeout(double seconds);

    // Applies a whole configuration (a config file's resources) in order:
    // logger, metrics, boot source, machine config, interfaces.
    Status apply(const VmResources& resources);
    // `skiff run`: boots this configuration as it is (no API resources).
    Status start_with(const VmConfig& config);

    // Asks the VM to stop (as SIGTERM does: exit status 0); returns at once.
    void stop(std::string reason);
    // Blocks until the VM has stopped; NotStarted: returns at once with 0.
    ExitInfo wait();
    std::optional<ExitInfo> wait_for(std::chrono::milliseconds timeout);

    [[nodiscard]] std::vector<InterfaceStats> interface_stats() const;
    // The console output kept in memory (SerialOutput::Capture).
    [[nodiscard]] std::string console_output() const;

private:
    Status launch(const VmConfig& config, Machine::Clock::time_point requested);
    // After the Machine was built: the instance is Stopped with exit status 1
    // (under mutex_).
    Status fail_start(const Error& error);
    Result<VmConfig> config_from_resources() const;
    // state_, with Running split by the Machine's own pause flag (under mutex_).
    [[nodiscard]] VmState current_state() const;
    // Requires the state; the message names the operation.
    Status require_not_started(std::string_view what) const;
    Status require_started(std::string_view what) const;
    void write_metrics_line();
    void metrics_loop();
    void on_stopped(ExitReport report);

    VmInstanceOptions options_;
    mutable std::mutex mutex_;
    std::condition_variable changed_;
    VmState state_ = VmState::NotStarted;  // NotStarted, Running or Stopped; see current_state()
    VmResources resources_;
    std::unique_ptr<Machine> machine_;
    std::thread runner_;
    std::optional<ExitInfo> exit_;
    std::FILE* metrics_file_ = nullptr;  // under mutex_
    std::thread metrics_thread_;
    bool starting_ = false;
};

}  // namespace skiff
