// A non-blocking one-shot Linux timerfd on CLOCK_MONOTONIC (the clock of
// std::chrono::steady_clock): readable once it has expired, until it is
// read, re-armed or disarmed. Move-only.
#pragma once

#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <chrono>
#include <cstdint>

namespace skiff {

class TimerFd final {
public:
    static Result<TimerFd> create();

    [[nodiscard]] int fd() const { return fd_.get(); }
    // Fires once, `delay` from now (at least a nanosecond: zero would
    // disarm); replaces any earlier arming and clears a pending expiry.
    void arm(std::chrono::nanoseconds delay);
    // Stops it and clears a pending expiry.
    void disarm();
    // Reads and clears the expiry count; 0 if it has not fired.
    uint64_t consume();
    // Armed and neither fired-and-read nor disarmed since.
    [[nodiscard]] bool armed() const { return armed_; }

private:
    explicit TimerFd(UniqueFd fd) : fd_(std::move(fd)) {}
    void set(std::chrono::nanoseconds delay);
    UniqueFd fd_;
    bool armed_ = false;
};

}  // namespace skiff
