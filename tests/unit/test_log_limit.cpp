#include "vmm/log_limit.h"

#include "captured_log.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using skiff::LogLimiter;
using skiff::LogLimitPolicy;

namespace {

LogLimiter::Clock::time_point fake_now{};

LogLimiter::Clock::time_point fake_clock() {
    return fake_now;
}

// Counts the admitted messages of `attempts` tries at `now`; the last
// admitted decision's suppressed count goes to *suppressed.
unsigned admit_many(LogLimiter& limiter, LogLimiter::Clock::time_point now, unsigned attempts,
                    uint64_t* suppressed = nullptr) {
    unsigned admitted = 0;
    for (unsigned i = 0; i < attempts; ++i) {
        auto decision = limiter.admit(now);
        if (decision.log) {
            ++admitted;
            if (suppressed != nullptr) {
                *suppressed = decision.suppressed;
            }
        }
    }
    return admitted;
}

// The default logger to a string (info and worse), and the limiters on
// the fake clock, for one test.
class CapturedLog : public skiff::test::CapturedLog {
public:
    CapturedLog() : skiff::test::CapturedLog(spdlog::level::info) { skiff::set_log_limit_clock_for_testing(fake_clock); }
    ~CapturedLog() { skiff::set_log_limit_clock_for_testing(nullptr); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;
};

void hostile_site(int value) {
    SKIFF_WARN_LIMITED("device: bad value {}", value);
}

void quiet_site(int value) {
    SKIFF_DEBUG_LIMITED("device: detail {}", value);
}

}  // namespace

TEST_CASE("log limiter: a burst passes, the rest is suppressed", "[log_limit]") {
    LogLimiter limiter(LogLimitPolicy{.burst = 5, .refill = 2s});
    const LogLimiter::Clock::time_point start{};
    CHECK(admit_many(limiter, start, 1000) == 5);
    CHECK(limiter.suppressed_total() == 995);
    // Still nothing within the refill interval.
    CHECK(admit_many(limiter, start + 1999ms, 10) == 0);
    CHECK(limiter.suppressed_total() == 1005);
}

TEST_CASE("log limiter: the first message after a pause carries the suppressed count", "[log_limit]") {
    LogLimiter limiter(LogLimitPolicy{.burst = 3, .refill = 1s});
    const LogLimiter::Clock::time_point start{};
    uint64_t suppressed = 99;
    CHECK(admit_many(limiter, start, 3, &suppressed) == 3);
    CHECK(suppressed == 0);
    CHECK(admit_many(limiter, start + 10ms, 42) == 0);
    // One refill interval earns one message, which reports the 42.
    CHECK(admit_many(limiter, start + 1s, 10, &suppressed) == 1);
    CHECK(suppressed == 42);
    // The next one reports only what was refused since (9 at 1 s, 7 now).
    CHECK(admit_many(limiter, start + 2s, 8, &suppressed) == 1);
    CHECK(suppressed == 9);
}

TEST_CASE("log limiter: sustained rate is one per refill interval, bucket refills to the burst", "[log_limit]") {
    LogLimiter limiter(LogLimitPolicy{.burst = 5, .refill = 2s});
    const LogLimiter::Clock::time_point start{};
    CHECK(admit_many(limiter, start, 100) == 5);
    // 10 s of 1000 messages per second: one message each 2 s.
    unsigned admitted = 0;
    for (int ms = 1; ms <= 10000; ++ms) {
        admitted += admit_many(limiter, start + std::chrono::milliseconds(ms), 1);
    }
    CHECK(admitted == 5);
    // A long quiet spell refills the burst, and no more than the burst.
    CHECK(admit_many(limiter, start + 1h, 100) == 5);
}

TEST_CASE("log limiter: partial refill keeps the remainder of an interval", "[log_limit]") {
    LogLimiter limiter(LogLimitPolicy{.burst = 4, .refill = 1s});
    const LogLimiter::Clock::time_point start{};
    CHECK(admit_many(limiter, start, 4) == 4);
    CHECK(admit_many(limiter, start + 2500ms, 10) == 2);  // 2 earned, 0.5 s carried
    CHECK(admit_many(limiter, start + 3000ms, 10) == 1);  // the carried half completes one
}

TEST_CASE("log limiter: the call-site macro logs the burst then a summary line", "[log_limit]") {
    CapturedLog log;
    fake_now = LogLimiter::Clock::time_point{} + 1000h;
    for (int i = 0; i < 100000; ++i) {
        hostile_site(i);
    }
    fake_now += skiff::kDefaultLogLimit.refill;
    hostile_site(-1);
    const std::string text = log.text();
    CHECK(text ==
          "warning device: bad value 0\n"
          "warning device: bad value 1\n"
          "warning device: bad value 2\n"
          "warning device: bad value 3\n"
          "warning device: bad value 4\n"
          "warning device: bad value -1 (99995 similar messages suppressed)\n");
}

TEST_CASE("log limiter: messages below the level touch no limiter", "[log_limit]") {
    CapturedLog log;
    for (int i = 0; i < 1000; ++i) {
        quiet_site(i);
    }
    spdlog::default_logger()->set_level(spdlog::level::debug);
    quiet_site(7);
    CHECK(log.text() == "debug device: detail 7\n");
}

TEST_CASE("log limiter: suppressed count wording", "[log_limit]") {
    CHECK(skiff::with_suppressed_count("m", 0) == "m");
    CHECK(skiff::with_suppressed_count("m", 1) == "m (1 similar message suppressed)");
    CHECK(skiff::with_suppressed_count("m", 2) == "m (2 similar messages suppressed)");
}
