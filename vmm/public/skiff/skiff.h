// libskiff: skiff's VMM as a C++ library, for test harnesses and runtimes
// that want a microVM without a socket in between. Configure a Vm with the
// same pieces as Firecracker's API (skiff/config.h), start it, pause and
// resume it, change its rate limits, read its console, stop it and wait
// for its end. The skiff binary runs the same code.
//
//     skiff::Vm vm;                       // boots skiff's test guest by default
//     vm.set_machine_config({.vcpu_count = 1, .mem_size_mib = 64});
//     vm.set_console(skiff::ConsoleMode::Capture);
//     if (auto started = vm.start(); !started) { ... started.message() ... }
//     ... vm.console_output() ...
//     vm.stop();
//     skiff::ExitInfo end = vm.wait();
//
// Needs /dev/kvm (and CAP_NET_ADMIN for interfaces skiff creates). Every
// call is thread-safe; none throws. A process may run several Vms. libskiff
// installs a handler for SIGRTMIN (used to kick vCPU threads out of
// KVM_RUN): don't use that signal for anything else. The threads a Vm starts
// (vCPUs, its event loop, metrics) run under seccomp filters (README
// "seccomp"): libskiff installs a SIGSYS handler, and a forbidden system
// call on one of them ends the whole process with exit status 6.
#pragma once

#include "skiff/config.h"

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

// libskiff is built with hidden visibility: only what is marked is exported.
#define SKIFF_EXPORT __attribute__((visibility("default")))

namespace skiff {

enum class ConsoleMode {
    Capture,  // kept in memory (the last `capture_limit` bytes): console_output()
    Stdio,    // the process's standard output (and input)
    File,     // appended to a file
    None,     // discarded
};

class SKIFF_EXPORT Vm final {
public:
    // `id` is reported by the API (GET /) and in metrics.
    explicit Vm(std::string id = "anonymous-instance");
    ~Vm();  // stops the VM if it runs, and waits for it
    Vm(const Vm&) = delete;
    Vm& operator=(const Vm&) = delete;

    // Before start(). Without a boot source (or with an empty
    // kernel_image_path), skiff's embedded test guest boots.
    Status set_boot_source(const BootSource& source);
    Status set_machine_config(const MachineConfig& config);
    Status set_network_interface(const NetworkInterface& interface);
    Status set_logger(const LoggerConfig& logger);
    Status set_metrics(const MetricsConfig& metrics);
    // Default: Capture, 1 MiB.
    Status set_console(ConsoleMode mode, std::string path = {}, size_t capture_limit = 1 << 20);
    // Stop the VM with exit status 5 (timeout) after this long.
    Status set_timeout(std::chrono::milliseconds timeout);
    // A Firecracker config file's JSON (boot-source, machine-config,
    // network-interfaces, logger, metrics).
    Status load_config(std::string_view json);
    // Also serve Firecracker's REST API for this Vm on a unix socket (before
    // or after start; once).
    Status serve_api(const std::string& socket_path);

    Status start();

    // After start().
    Status pause();
    Status resume();
    Status send_ctrl_alt_del();
    Status update_network_interface(const NetworkInterfaceUpdate& update);
    Status flush_metrics();

    // Asks the VM to stop (exit status 0); returns at once.
    void stop();
    // Blocks until the VM has ended (at once if it never started).
    ExitInfo wait();
    // The end, if it comes within `timeout`.
    std::optional<ExitInfo> wait_for(std::chrono::milliseconds timeout);

    [[nodiscard]] VmState state() const;
    [[nodiscard]] VmResources resources() const;
    [[nodiscard]] std::string console_output() const;
    // Per virtio-net interface (config.h InterfaceStats; vhost mode too).
    [[nodiscard]] std::vector<InterfaceStats> interface_stats() const;

    // skiff's version, e.g. "0.2.0".
    static const char* version();

private:
    struct State;
    std::unique_ptr<State> state_;
};

}  // namespace skiff
