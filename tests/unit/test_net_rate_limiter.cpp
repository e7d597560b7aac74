#include "net/rate_limiter.h"

#include <catch2/catch.hpp>

using namespace std::chrono_literals;
using skiff::net::RateClock;
using skiff::net::RateLimiter;
using skiff::net::RateLimiterConfig;
using skiff::net::TokenBucket;
using skiff::net::TokenBucketConfig;

namespace {

const RateClock::time_point kStart{};  // a fixed origin: tests pass time explicitly

}  // namespace

TEST_CASE("an unlimited limiter passes everything at once", "[net][rate_limiter]") {
    RateLimiter limiter({}, kStart);
    CHECK(limiter.unlimited());
    for (int i = 0; i < 1000; ++i) {
        REQUIRE(limiter.try_consume(65536, kStart));
    }
    CHECK(limiter.time_until_ready(1 << 30, kStart) == RateClock::duration::zero());
    // size 0 means no limit, as in Firecracker's API.
    RateLimiter zero(RateLimiterConfig{TokenBucketConfig{0, 0, 100}, TokenBucketConfig{0, 0, 100}}, kStart);
    CHECK(zero.unlimited());
}

TEST_CASE("a bandwidth bucket empties, says how long to wait, and refills at its rate", "[net][rate_limiter]") {
    TokenBucket bucket(TokenBucketConfig{1000, 0, 100}, kStart);  // 1000 bytes per 100 ms
    CHECK(bucket.try_consume(1000, kStart));
    CHECK_FALSE(bucket.try_consume(1, kStart));
    CHECK(bucket.time_until(500, kStart) == 50ms);
    CHECK_FALSE(bucket.try_consume(500, kStart + 49ms));
    CHECK(bucket.try_consume(500, kStart + 50ms));
    CHECK_FALSE(bucket.try_consume(1, kStart + 50ms));
    // Never more than full, however long it rests.
    CHECK(bucket.try_consume(1000, kStart + 10s));
    CHECK_FALSE(bucket.try_consume(1, kStart + 10s));
}

TEST_CASE("slow rates lose no fraction of a token", "[net][rate_limiter]") {
    TokenBucket bucket(TokenBucketConfig{3, 0, 1000}, kStart);  // one token per 333.3 ms
    REQUIRE(bucket.try_consume(3, kStart));
    auto now = kStart;
    int granted = 0;
    for (int step = 0; step < 10000; ++step) {  // 10 s in 1 ms steps
        now += 1ms;
        if (bucket.try_consume(1, now)) {
            ++granted;
        }
    }
    CHECK(granted == 30);
}

TEST_CASE("the one-time burst is spent first and never comes back", "[net][rate_limiter]") {
    TokenBucket bucket(TokenBucketConfig{100, 1000, 1000}, kStart);
    CHECK(bucket.try_consume(1000, kStart));  // the burst
    CHECK(bucket.try_consume(100, kStart));   // then the bucket
    CHECK_FALSE(bucket.try_consume(1, kStart));
    CHECK(bucket.try_consume(100, kStart + 1s));
    // After a long rest the bucket is full again, the burst is not.
    CHECK(bucket.try_consume(100, kStart + 100s));
    CHECK_FALSE(bucket.try_consume(1, kStart + 100s));
}

TEST_CASE("a frame larger than the bucket passes when the bucket is full", "[net][rate_limiter]") {
    TokenBucket bucket(TokenBucketConfig{1000, 0, 100}, kStart);
    CHECK(bucket.try_consume(1500, kStart));  // full: passes, empties it
    CHECK_FALSE(bucket.try_consume(1500, kStart + 50ms));
    CHECK(bucket.time_until(1500, kStart + 50ms) == 50ms);
    CHECK(bucket.try_consume(1500, kStart + 100ms));
}

TEST_CASE("a frame passes both buckets or takes from neither", "[net][rate_limiter]") {
    RateLimiterConfig config;
    config.bandwidth = TokenBucketConfig{3000, 0, 1000};
    config.ops = TokenBucketConfig{10, 0, 1000};
    RateLimiter limiter(config, kStart);
    CHECK(limiter.try_consume(1500, kStart));
    CHECK(limiter.try_consume(1500, kStart));
    // Bandwidth is empty, ops has 8: refused, and no op is taken.
    for (int i = 0; i < 5; ++i) {
        CHECK_FALSE(limiter.try_consume(1500, kStart));
    }
    CHECK(limiter.time_until_ready(1500, kStart) == 500ms);
    for (int i = 0; i < 8; ++i) {
        REQUIRE(limiter.try_consume(1, kStart + 10ms));  // 30 bytes refilled; ops left
    }
    CHECK_FALSE(limiter.try_consume(1, kStart + 10ms));  // ops empty now
    CHECK(limiter.time_until_ready(1, kStart + 10ms) == 90ms);  // one op per 100 ms, 10 ms earned
}

TEST_CASE("sustained traffic through a limiter runs at its rate", "[net][rate_limiter]") {
    RateLimiterConfig config;
    config.bandwidth = TokenBucketConfig{100'000, 0, 100};  // 1 MB/s, 100 kB bucket
    RateLimiter limiter(config, kStart);
    uint64_t sent = 0;
    auto now = kStart;
    while (now < kStart + 10s) {
        if (limiter.try_consume(1500, now)) {
            sent += 1500;
        } else {
            now += limiter.time_until_ready(1500, now);
        }
    }
    // The first full bucket plus 10 s at 1 MB/s, within one frame.
    CHECK(sent >= 10'100'000 - 1500);
    CHECK(sent <= 10'100'000 + 1500);
}

TEST_CASE("updating a limiter takes effect at once with full buckets", "[net][rate_limiter]") {
    RateLimiterConfig slow;
    slow.bandwidth = TokenBucketConfig{1000, 0, 1000};
    RateLimiter limiter(slow, kStart);
    CHECK(limiter.try_consume(1000, kStart));
    CHECK_FALSE(limiter.try_consume(1000, kStart));
    RateLimiterConfig fast;
    fast.bandwidth = TokenBucketConfig{100'000, 0, 100};
    limiter.update(fast, kStart);
    CHECK(limiter.try_consume(50'000, kStart));
    limiter.update({}, kStart);
    CHECK(limiter.unlimited());
    CHECK(limiter.try_consume(1 << 30, kStart));
}
