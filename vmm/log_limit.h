// Rate-limited logging: the one facility skiff uses for every message a
// guest (or anything else outside skiff's control) can make it log. A
// guest can hit a bad register or a broken ring millions of times a
// second; each call site (or each key, such as one device) may log a
// short burst, then a message now and then, and the first message that
// passes after a quiet spell says how many were dropped:
//   "net0: ... (1234 similar messages suppressed)".
//
//   SKIFF_LOG_LIMITED(spdlog::level::warn, "{}: bad thing {}", name, value);  // per call site
//   log_limited(limiter_, spdlog::level::warn, "...", ...);                   // per key (a member limiter)
//
// Messages below the logger's level cost one level check and touch no
// limiter. The limiter is a token bucket: `burst` messages at once, then
// one more each `refill` (kDefaultLogLimit: 5, then one every 10 s: a guest
// that never stops costs each site at most 360 lines an hour).
#pragma once

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <utility>

namespace skiff {

struct LogLimitPolicy {
    uint32_t burst;
    std::chrono::steady_clock::duration refill;
};

inline constexpr LogLimitPolicy kDefaultLogLimit{.burst = 5, .refill = std::chrono::seconds(10)};

// Decides whether one more message may be logged; thread-safe.
class LogLimiter final {
public:
    using Clock = std::chrono::steady_clock;

    struct Decision {
        bool log = false;
        uint64_t suppressed = 0;  // refused since the previous admitted message (when log)
    };

    explicit LogLimiter(LogLimitPolicy policy = kDefaultLogLimit);
    LogLimiter(const LogLimiter&) = delete;
    LogLimiter& operator=(const LogLimiter&) = delete;

    Decision admit(Clock::time_point now);

    // Messages refused over the limiter's life.
    [[nodiscard]] uint64_t suppressed_total() const;

private:
    mutable std::mutex mutex_;
    LogLimitPolicy policy_;
    bool started_ = false;
    uint32_t tokens_ = 0;
    Clock::time_point refilled_at_{};
    uint64_t suppressed_ = 0;
    uint64_t suppressed_total_ = 0;
};

// The limiters' clock: steady_clock, unless a test installed another.
LogLimiter::Clock::time_point log_limit_now();
using LogLimitClock = LogLimiter::Clock::time_point (*)();
// nullptr restores steady_clock. For tests only.
void set_log_limit_clock_for_testing(LogLimitClock clock);

// Appends " (N similar messages suppressed)" when N > 0.
std::string with_suppressed_count(std::string message, uint64_t suppressed);

template <typename... Args>
void log_limited(LogLimiter& limiter, spdlog::level::level_enum level, fmt::format_string<Args...> text,
                 Args&&... args) {
    if (!spdlog::should_log(level)) {
        return;
    }
    LogLimiter::Decision decision = limiter.admit(log_limit_now());
    if (!decision.log) {
        return;
    }
    spdlog::log(level, "{}",
                with_suppressed_count(fmt::format(text, std::forward<Args>(args)...), decision.suppressed));
}

}  // namespace skiff

// One limiter per call site (a function-local static shared by every
// thread and every device that reaches this line).
#define SKIFF_LOG_LIMITED(level, ...)                                 \
    do {                                                              \
        static ::skiff::LogLimiter skiff_site_limiter_;               \
        ::skiff::log_limited(skiff_site_limiter_, level, __VA_ARGS__); \
    } while (0)

#define SKIFF_WARN_LIMITED(...) SKIFF_LOG_LIMITED(spdlog::level::warn, __VA_ARGS__)
#define SKIFF_DEBUG_LIMITED(...) SKIFF_LOG_LIMITED(spdlog::level::debug, __VA_ARGS__)
