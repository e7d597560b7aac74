// A Machine built in the test process and run on a thread of its own, its
// console captured in memory; stopped and waited for when the test ends.
#pragma once

#include "guest-images/embedded_testguest.h"
#include "vmm/machine.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <future>
#include <optional>
#include <string>

namespace skiff::test {

// The embedded test guest in `testguest.mode=MODE` (none: its default).
inline VmConfig testguest_config(const std::string& mode, uint32_t cpus = 1) {
    VmConfig config;
    config.cmdline = "console=ttyS0";
    if (!mode.empty()) {
        config.cmdline += " testguest.mode=" + mode;
    }
    config.cpu_count = cpus;
    config.memory_mib = 64;
    config.serial.output = SerialOutput::Capture;
    config.timeout_seconds = 120;  // a test that hangs still ends
    return config;
}

class RunningVm {
public:
    explicit RunningVm(const VmConfig& config) {
        auto built = Machine::build(config, Machine::Clock::now(), embedded_testguest());
        if (!built.ok()) {
            FAIL("building the VM: " << built.error().message);
        }
        machine_ = std::move(built).value();
    }
    ~RunningVm() {
        machine_->lifecycle().request_stop(ExitStatus::GuestShutdown, "test over");
        if (finished_.valid()) {
            finished_.wait();
        }
    }
    RunningVm(const RunningVm&) = delete;
    RunningVm& operator=(const RunningVm&) = delete;

    void start() {
        finished_ = std::async(std::launch::async, [this] { return machine_->run(); });
    }
    // The VM's exit report once run() returned, or nothing after `timeout`.
    std::optional<ExitReport> wait_for_end(std::chrono::milliseconds timeout) {
        if (finished_.wait_for(timeout) != std::future_status::ready) {
            return std::nullopt;
        }
        return finished_.get();
    }

    Machine& machine() { return *machine_; }
    const ConsoleCapture& console() { return *machine_->console_capture(); }

private:
    std::unique_ptr<Machine> machine_;
    std::future<ExitReport> finished_;
};

}  // namespace skiff::test
