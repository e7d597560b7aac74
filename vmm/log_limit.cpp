#include "vmm/log_limit.h"

#include <atomic>

namespace skiff {

namespace {

std::atomic<LogLimitClock> test_clock{nullptr};

}  // namespace

LogLimiter::LogLimiter(LogLimitPolicy policy) : policy_(policy) {
    if (policy_.burst == 0) {
        policy_.burst = 1;
    }
}

LogLimiter::Decision LogLimiter::admit(Clock::time_point now) {
    std::lock_guard lock(mutex_);
    if (!started_) {
        started_ = true;
        tokens_ = policy_.burst;
        refilled_at_ = now;
    } else if (tokens_ < policy_.burst && policy_.refill.count() > 0 && now > refilled_at_) {
        auto earned = static_cast<uint64_t>((now - refilled_at_) / policy_.refill);
        if (earned >= policy_.burst - tokens_) {
            tokens_ = policy_.burst;
            refilled_at_ = now;
        } else if (earned > 0) {
            tokens_ += static_cast<uint32_t>(earned);
            refilled_at_ += policy_.refill * static_cast<int64_t>(earned);
        }
    } else if (tokens_ == policy_.burst) {
        refilled_at_ = now;  // a full bucket earns nothing while it waits
    }
    if (tokens_ == 0) {
        ++suppressed_;
        ++suppressed_total_;
        return Decision{};
    }
    --tokens_;
    Decision decision{.log = true, .suppressed = suppressed_};
    suppressed_ = 0;
    return decision;
}

uint64_t LogLimiter::suppressed_total() const {
    std::lock_guard lock(mutex_);
    return suppressed_total_;
}

LogLimiter::Clock::time_point log_limit_now() {
    LogLimitClock clock = test_clock.load(std::memory_order_relaxed);
    return clock != nullptr ? clock() : LogLimiter::Clock::now();
}

void set_log_limit_clock_for_testing(LogLimitClock clock) {
    test_clock.store(clock, std::memory_order_relaxed);
}

std::string with_suppressed_count(std::string message, uint64_t suppressed) {
    if (suppressed != 0) {
        message += fmt::format(" ({} similar message{} suppressed)", suppressed, suppressed == 1 ? "" : "s");
    }
    return message;
}

}  // namespace skiff
