// Who ends the VM and why. Any thread (a vCPU seeing a reset, the event loop
// seeing SIGTERM or the timeout) calls request_stop(); the first reason wins
// and every party is woken: the event loop through an eventfd, the vCPU
// threads through the kick callbacks registered here.
#pragma once

#include "vmm/exit_status.h"
#include "vmm/unique_fd.h"

#include <atomic>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

namespace skiff {

struct ExitReport {
    ExitStatus status = ExitStatus::GuestShutdown;
    std::string message;
};

class VmLifecycle final {
public:
    VmLifecycle();

    void request_stop(ExitStatus status, std::string message);
    [[nodiscard]] bool stopping() const { return stopping_.load(std::memory_order_acquire); }
    [[nodiscard]] ExitReport report() const;
    // Readable once a stop was requested.
    [[nodiscard]] int event_fd() const { return event_fd_.get(); }
    // Called (once) on stop, e.g. to kick a vCPU out of KVM_RUN.
    void on_stop(std::function<void()> callback);

private:
    UniqueFd event_fd_;
    std::atomic<bool> stopping_{false};
    mutable std::mutex mutex_;
    ExitReport report_;
    std::vector<std::function<void()>> callbacks_;
};

}  // namespace skiff
