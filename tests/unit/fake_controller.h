// A Controller for the API's tests and fuzz target: keeps the resources it
// is given, records each call by name, and follows the pre-boot/post-boot
// rules of controller.h with a small state machine (Not started ->
// InstanceStart -> Running <-> Paused). No VM behind it.
#pragma once

#include "vmm/api/controller.h"

#include <algorithm>
#include <mutex>
#include <string>
#include <vector>

namespace skiff::testing {

class FakeController final : public api::Controller {
public:
    [[nodiscard]] std::string id() const override { return "fake-vm"; }
    [[nodiscard]] VmState state() const override {
        std::lock_guard lock(mutex_);
        return state_;
    }
    [[nodiscard]] VmResources resources() const override {
        std::lock_guard lock(mutex_);
        return resources_;
    }

    Status set_boot_source(const BootSource& source) override {
        return pre_boot("set_boot_source", [&] { resources_.boot_source = source; });
    }
    Status set_machine_config(const MachineConfig& config) override {
        return pre_boot("set_machine_config", [&] { resources_.machine_config = config; });
    }
    Status set_network_interface(const NetworkInterface& interface) override {
        return pre_boot("set_network_interface", [&] {
            auto& interfaces = resources_.network_interfaces;
            auto same = std::find_if(interfaces.begin(), interfaces.end(),
                                     [&](const NetworkInterface& seen) { return seen.iface_id == interface.iface_id; });
            if (same != interfaces.end()) {
                *same = interface;
            } else {
                interfaces.push_back(interface);
            }
        });
    }
    Status set_logger(const LoggerConfig& logger) override {
        return pre_boot("set_logger", [&] { resources_.logger = logger; });
    }
    Status set_metrics(const MetricsConfig& metrics) override {
        return pre_boot("set_metrics", [&] { resources_.metrics = metrics; });
    }
    Status start() override {
        std::lock_guard lock(mutex_);
        calls_.push_back("start");
        if (state_ != VmState::NotStarted) {
            return Status::failure("the VM was started already");
        }
        if (fail_start_) {
            return Status::failure("cannot start: the kernel is missing");
        }
        state_ = VmState::Running;
        return {};
    }

    Status pause() override {
        return post_boot("pause", [&]() -> Status {
            if (state_ == VmState::Paused) {
                return Status::failure("the VM is paused already");
            }
            state_ = VmState::Paused;
            return {};
        });
    }
    Status resume() override {
        return post_boot("resume", [&]() -> Status {
            if (state_ != VmState::Paused) {
                return Status::failure("the VM is not paused");
            }
            state_ = VmState::Running;
            return {};
        });
    }
    Status send_ctrl_alt_del() override {
        return post_boot("send_ctrl_alt_del", [&]() -> Status { return {}; });
    }
    Status update_network_interface(const NetworkInterfaceUpdate& update) override {
        return post_boot("update_network_interface", [&]() -> Status {
            for (auto& interface : resources_.network_interfaces) {
                if (interface.iface_id == update.iface_id) {
                    if (update.rx_rate_limiter) {
                        interface.rx_rate_limiter = update.rx_rate_limiter;
                    }
                    if (update.tx_rate_limiter) {
                        interface.tx_rate_limiter = update.tx_rate_limiter;
                    }
                    return {};
                }
            }
            return Status::failure("no network interface " + update.iface_id);
        });
    }
    Status flush_metrics() override {
        std::lock_guard lock(mutex_);
        calls_.push_back("flush_metrics");
        if (!resources_.metrics) {
            return Status::failure("no metrics destination: PUT /metrics first");
        }
        ++flushes_;
        return {};
    }

    // Test controls and observations.
    void fail_start(bool fail) {
        std::lock_guard lock(mutex_);
        fail_start_ = fail;
    }
    [[nodiscard]] std::vector<std::string> calls() const {
        std::lock_guard lock(mutex_);
        return calls_;
    }
    [[nodiscard]] int flushes() const {
        std::lock_guard lock(mutex_);
        return flushes_;
    }

private:
    template <typename Apply>
    Status pre_boot(const char* name, Apply apply) {
        std::lock_guard lock(mutex_);
        calls_.push_back(name);
        if (state_ != VmState::NotStarted) {
            return Status::failure(std::string(name) + ": only before InstanceStart");
        }
        apply();
        return {};
    }
    template <typename Apply>
    Status post_boot(const char* name, Apply apply) {
        std::lock_guard lock(mutex_);
        calls_.push_back(name);
        if (state_ == VmState::NotStarted) {
            return Status::failure(std::string(name) + ": the VM is not started yet (PUT /actions InstanceStart)");
        }
        return apply();
    }

    mutable std::mutex mutex_;
    VmState state_ = VmState::NotStarted;
    VmResources resources_;
    std::vector<std::string> calls_;
    int flushes_ = 0;
    bool fail_start_ = false;
};

}  // namespace skiff::testing
