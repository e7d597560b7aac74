#include "vmm/vm_lifecycle.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace skiff {

VmLifecycle::VmLifecycle() : event_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {}

void VmLifecycle::request_stop(ExitStatus status, std::string message) {
    std::vector<std::function<void()>> callbacks;
    {
        std::lock_guard lock(mutex_);
        if (stopping_.load()) {
            return;
        }
        report_ = ExitReport{status, std::move(message)};
        stopping_.store(true, std::memory_order_release);
        callbacks = callbacks_;
    }
    uint64_t one = 1;
    [[maybe_unused]] auto written = ::write(event_fd_.get(), &one, sizeof(one));
    for (auto& callback : callbacks) {
        callback();
    }
}

ExitReport VmLifecycle::report() const {
    std::lock_guard lock(mutex_);
    return report_;
}

void VmLifecycle::on_stop(std::function<void()> callback) {
    bool run_now = false;
    {
        std::lock_guard lock(mutex_);
        run_now = stopping_.load();
        if (!run_now) {
            callbacks_.push_back(callback);
        }
    }
    if (run_now) {
        callback();
    }
}

}  // namespace skiff
