#include "net/rate_limiter.h"

#include <algorithm>

namespace skiff::net {

namespace {

using std::chrono::nanoseconds;

constexpr uint64_t kNanosecondsPerMillisecond = 1'000'000;

uint64_t refill_period_ns(const TokenBucketConfig& config) {
    return std::max<uint64_t>(config.refill_time_ms, 1) * kNanosecondsPerMillisecond;
}

}  // namespace

TokenBucket::TokenBucket(const TokenBucketConfig& config, RateClock::time_point now)
    : config_(config), budget_(config.size), burst_(config.one_time_burst), last_refill_(now) {}

void TokenBucket::refill(RateClock::time_point now) {
    if (now <= last_refill_ || unlimited()) {
        return;
    }
    auto elapsed = static_cast<uint64_t>(std::chrono::duration_cast<nanoseconds>(now - last_refill_).count());
    last_refill_ = now;
    if (budget_ >= config_.size) {
        remainder_ = 0;
        return;
    }
    // tokens = elapsed * size / period, carried exactly across calls. The
    // products fit 128 bits for any size and any elapsed time.
    uint64_t period = refill_period_ns(config_);
    unsigned __int128 earned = static_cast<unsigned __int128>(elapsed) * config_.size + remainder_;
    unsigned __int128 tokens = earned / period;
    remainder_ = static_cast<uint64_t>(earned % period);
    uint64_t room = config_.size - budget_;
    if (tokens >= room) {
        budget_ = config_.size;
        remainder_ = 0;
    } else {
        budget_ += static_cast<uint64_t>(tokens);
    }
}

bool TokenBucket::try_consume(uint64_t tokens, RateClock::time_point now) {
    if (unlimited()) {
        return true;
    }
    refill(now);
    if (tokens > config_.size && burst_ < tokens) {
        // Larger than the bucket: passes when the bucket is full, emptying it.
        if (budget_ < config_.size) {
            return false;
        }
        burst_ = 0;
        budget_ = 0;
        return true;
    }
    uint64_t from_burst = std::min(burst_, tokens);
    if (budget_ < tokens - from_burst) {
        return false;
    }
    burst_ -= from_burst;
    budget_ -= tokens - from_burst;
    return true;
}

RateClock::duration TokenBucket::time_until(uint64_t tokens, RateClock::time_point now) {
    if (unlimited()) {
        return RateClock::duration::zero();
    }
    refill(now);
    uint64_t needed = tokens > config_.size && burst_ < tokens ? config_.size : tokens - std::min(burst_, tokens);
    if (budget_ >= needed) {
        return RateClock::duration::zero();
    }
    uint64_t missing = needed - budget_;
    uint64_t period = refill_period_ns(config_);
    unsigned __int128 wanted = static_cast<unsigned __int128>(missing) * period;
    wanted = wanted > remainder_ ? wanted - remainder_ : 0;
    auto wait = static_cast<uint64_t>((wanted + config_.size - 1) / config_.size);  // round up
    return std::chrono::duration_cast<RateClock::duration>(nanoseconds(wait));
}

RateLimiter::RateLimiter(const RateLimiterConfig& config, RateClock::time_point now) { update(config, now); }

void RateLimiter::update(const RateLimiterConfig& config, RateClock::time_point now) {
    bandwidth_.reset();
    ops_.reset();
    if (config.bandwidth && config.bandwidth->size > 0) {
        bandwidth_.emplace(*config.bandwidth, now);
    }
    if (config.ops && config.ops->size > 0) {
        ops_.emplace(*config.ops, now);
    }
}

bool RateLimiter::try_consume(uint64_t bytes, RateClock::time_point now) {
    // Check both before taking from either: a frame passes whole or not at all.
    if (time_until_ready(bytes, now) != RateClock::duration::zero()) {
        return false;
    }
    bool ops_ok = !ops_ || ops_->try_consume(1, now);
    bool bandwidth_ok = !bandwidth_ || bandwidth_->try_consume(bytes, now);
    return ops_ok && bandwidth_ok;
}

RateClock::duration RateLimiter::time_until_ready(uint64_t bytes, RateClock::time_point now) {
    RateClock::duration wait = RateClock::duration::zero();
    if (ops_) {
        wait = std::max(wait, ops_->time_until(1, now));
    }
    if (bandwidth_) {
        wait = std::max(wait, bandwidth_->time_until(bytes, now));
    }
    return wait;
}

}  // namespace skiff::net
