#include "vmm/timer_fd.h"

#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>

namespace skiff {

Result<TimerFd> TimerFd::create() {
    const int fd = ::timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (fd < 0) {
        return errno_error("timerfd_create");
    }
    return TimerFd(UniqueFd(fd));
}

void TimerFd::set(std::chrono::nanoseconds delay) {
    constexpr int64_t kNanosecondsPerSecond = 1'000'000'000;
    const int64_t count = delay.count();
    itimerspec spec{};
    spec.it_value.tv_sec = static_cast<time_t>(count / kNanosecondsPerSecond);
    spec.it_value.tv_nsec = static_cast<long>(count % kNanosecondsPerSecond);
    // Only a bad fd can make this fail, and this class owns a good one.
    ::timerfd_settime(fd_.get(), 0, &spec, nullptr);
}

void TimerFd::arm(std::chrono::nanoseconds delay) {
    set(std::max(delay, std::chrono::nanoseconds(1)));
    armed_ = true;
}

void TimerFd::disarm() {
    // Setting a timerfd, to zero as to anything, also resets its expiry count.
    set(std::chrono::nanoseconds(0));
    armed_ = false;
}

uint64_t TimerFd::consume() {
    uint64_t count = 0;
    if (::read(fd_.get(), &count, sizeof(count)) != static_cast<ssize_t>(sizeof(count))) {
        return 0;  // EAGAIN: not expired
    }
    armed_ = false;
    return count;
}

}  // namespace skiff
