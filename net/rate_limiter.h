// Token buckets for an interface's rate limits, in the shape Firecracker's
// API gives them (rx_rate_limiter / tx_rate_limiter: a `bandwidth` bucket in
// bytes and an `ops` bucket in frames, each {size, one_time_burst,
// refill_time in ms}). A limited direction waits, it never drops: the data
// path asks before it moves a frame, and when the answer is "not yet" it
// stops taking frames and comes back after time_until_ready().
//
// Not thread-safe: one data path owns each limiter (updates from the API go
// through that thread). Time is passed in, so tests need no sleeping.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>

namespace skiff::net {

using RateClock = std::chrono::steady_clock;

struct TokenBucketConfig {
    uint64_t size = 0;            // tokens the bucket holds when full; 0: no limit
    uint64_t one_time_burst = 0;  // extra tokens, spent first, never refilled
    uint64_t refill_time_ms = 0;  // time to refill `size` tokens from empty (> 0 with size)
};

// Refills continuously: `size` tokens per `refill_time_ms`.
class TokenBucket {
public:
    TokenBucket(const TokenBucketConfig& config, RateClock::time_point now);

    // Takes `tokens` if the bucket (burst first) has them, else takes none.
    // A request larger than `size` is granted once the bucket is full, so
    // that a frame bigger than the bucket cannot wait forever.
    [[nodiscard]] bool try_consume(uint64_t tokens, RateClock::time_point now);
    // How long until try_consume(tokens) can succeed (zero if now).
    [[nodiscard]] RateClock::duration time_until(uint64_t tokens, RateClock::time_point now);

    [[nodiscard]] bool unlimited() const { return config_.size == 0; }
    [[nodiscard]] const TokenBucketConfig& config() const { return config_; }

private:
    void refill(RateClock::time_point now);

    TokenBucketConfig config_;
    uint64_t budget_ = 0;  // refillable tokens available
    uint64_t burst_ = 0;   // what is left of one_time_burst
    RateClock::time_point last_refill_;
    // Fraction of a token earned but not yet credited, in token-nanoseconds
    // (keeps slow rates exact).
    uint64_t remainder_ = 0;
};

struct RateLimiterConfig {
    std::optional<TokenBucketConfig> bandwidth;  // bytes
    std::optional<TokenBucketConfig> ops;        // frames
};

// A bandwidth and an ops bucket; a frame passes when both have room.
class RateLimiter {
public:
    explicit RateLimiter(const RateLimiterConfig& config = {}, RateClock::time_point now = RateClock::now());

    // Takes one op and `bytes` bytes, or nothing.
    [[nodiscard]] bool try_consume(uint64_t bytes, RateClock::time_point now = RateClock::now());
    // How long until a frame of `bytes` can pass.
    [[nodiscard]] RateClock::duration time_until_ready(uint64_t bytes, RateClock::time_point now = RateClock::now());
    // New limits (a PATCH at run time): the buckets start full.
    void update(const RateLimiterConfig& config, RateClock::time_point now = RateClock::now());

    [[nodiscard]] bool unlimited() const { return !bandwidth_ && !ops_; }

private:
    std::optional<TokenBucket> bandwidth_;
    std::optional<TokenBucket> ops_;
};

}  // namespace skiff::net
