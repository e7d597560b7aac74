// The data path under rate limits, on a fake clock: each direction passes
// what its buckets allow per simulated interval, waits (never drops), and
// everything arrives in order once time moves on.
#include "queue_pair_fixture.h"

#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <linux/sockios.h>

#include <catch2/catch.hpp>

#include <chrono>

using namespace skiff;
using namespace std::chrono_literals;
using skiff::testing::frame_of;
using skiff::testing::guest_bytes;
using Fixture = skiff::testing::QueuePairFixture;
using net::RateClock;
using net::RateLimiter;
using net::RateLimiterConfig;
using net::TokenBucketConfig;

namespace {

constexpr uint16_t kWrite = virtio::ring::kDescriptorWrite;

struct FakeClock {
    RateClock::time_point now{std::chrono::hours(1)};
    int reads = 0;
    std::function<RateClock::time_point()> function() {
        return [this] {
            ++reads;
            return now;
        };
    }
};

TokenBucketConfig bucket(uint64_t size, uint64_t refill_ms, uint64_t burst) {
    return TokenBucketConfig{.size = size, .one_time_burst = burst, .refill_time_ms = refill_ms};
}

RateLimiterConfig bandwidth(uint64_t size, uint64_t refill_ms, uint64_t burst = 0) {
    return RateLimiterConfig{.bandwidth = bucket(size, refill_ms, burst), .ops = std::nullopt};
}

RateLimiterConfig ops(uint64_t size, uint64_t refill_ms, uint64_t burst = 0) {
    return RateLimiterConfig{.bandwidth = std::nullopt, .ops = bucket(size, refill_ms, burst)};
}

// A pair whose directions ask `rx` and `tx` (null: unlimited) on `clock`.
std::unique_ptr<Fixture> limited_pair(FakeClock& clock, RateLimiter* rx, RateLimiter* tx, bool mergeable = false) {
    return std::make_unique<Fixture>(mergeable, net::kVnetHeaderSize + 1518, [&](net::QueuePairOptions& options) {
        options.rx_limiter = rx;
        options.tx_limiter = tx;
        options.clock = clock.function();
    });
}

// `count` transmit chains of `payload` bytes each (frame i seeded with i).
void queue_tx_frames(Fixture& fixture, uint16_t count, size_t payload) {
    for (uint16_t i = 0; i < count; ++i) {
        auto frame = frame_of(payload, static_cast<uint8_t>(i));
        uint64_t address = 0x100000 + 0x1000 * uint64_t{i};
        REQUIRE(fixture.memory.write(GuestAddress(address), std::as_bytes(std::span(frame))).ok());
        fixture.tx_descriptor(i, address, static_cast<uint32_t>(frame.size()), 0);
        fixture.tx_publish(i);
    }
}

// The host side got frames 0..count-1 of `payload` bytes, in order, and no more.
void check_host_received(Fixture& fixture, uint16_t count, size_t payload) {
    for (uint16_t i = 0; i < count; ++i) {
        INFO("frame " << i);
        CHECK(fixture.backend.take() == frame_of(payload, static_cast<uint8_t>(i)));
    }
    CHECK(fixture.backend.take().empty());
}

// `count` receive buffers of 2048 bytes.
void post_rx_buffers(Fixture& fixture, uint16_t count) {
    for (uint16_t i = 0; i < count; ++i) {
        fixture.rx.set_descriptor(i, 0x10000 + 0x1000 * uint64_t{i}, 2048, kWrite);
        fixture.rx.publish(i);
    }
}

// The guest got frames 0..count-1 of `payload` bytes in its buffers, in order.
void check_guest_received(Fixture& fixture, uint16_t count, size_t payload) {
    REQUIRE(fixture.rx.used_index() == count);
    for (uint16_t i = 0; i < count; ++i) {
        INFO("frame " << i);
        CHECK(fixture.rx.used(i).id == i);
        auto expected = frame_of(payload, static_cast<uint8_t>(i));
        CHECK(fixture.rx.used(i).length == expected.size());
        auto copied = guest_bytes(fixture.memory, 0x10000 + 0x1000 * uint64_t{i}, expected.size());
        CHECK(std::equal(expected.begin() + 12, expected.end(), copied.begin() + 12));
    }
}

// Bytes waiting in the backend's receive queue (the sum over its frames).
int backend_queued_bytes(const Fixture& fixture) {
    int queued = -1;
    REQUIRE(::ioctl(fixture.backend.fd(), SIOCINQ, &queued) == 0);
    return queued;
}

}  // namespace

TEST_CASE("transmit limited by bandwidth passes the bucket's bytes per interval and drops nothing",
          "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter limiter(bandwidth(3000, 100), clock.now);  // 3000 bytes per 100 ms
    auto fixture = limited_pair(clock, nullptr, &limiter);
    queue_tx_frames(*fixture, 12, 1000);

    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 3);  // the full bucket
    REQUIRE(fixture->pair->tx_throttled());
    // 1000 more bytes at 3000 per 100 ms: a third of 100 ms, rounded up.
    CHECK(*fixture->pair->tx_throttled() == std::chrono::nanoseconds(33'333'334));
    CHECK(fixture->counters.tx_throttled == 1);
    CHECK((fixture->pair->backend_interest() & EPOLLOUT) == 0);  // waiting for time, not for the tap

    // Just before the frame's time nothing moves; at it, exactly that frame.
    clock.now += *fixture->pair->tx_throttled() - 1ns;
    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 3);
    CHECK(fixture->counters.tx_throttled == 2);
    clock.now += 1ns;
    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 4);

    // From an empty bucket: three 1000-byte frames per 100 ms.
    for (uint16_t interval = 1; interval <= 2; ++interval) {
        clock.now += 100ms;
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 4 + 3 * interval);
        CHECK(fixture->pair->tx_throttled());
    }
    clock.now += 100ms;
    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 12);  // the last two, then the ring is empty
    CHECK_FALSE(fixture->pair->tx_throttled());
    CHECK(fixture->counters.tx_throttled == 5);

    check_host_received(*fixture, 12, 1000);
    CHECK(fixture->counters.tx_packets == 12);
    CHECK(fixture->counters.tx_bytes == 12000);  // the header is not counted, nor charged
    CHECK(fixture->counters.tx_dropped == 0);
}

TEST_CASE("transmit limited by ops passes the bucket's frames per interval, burst first",
          "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter limiter(ops(2, 50, 3), clock.now);  // 2 frames per 50 ms, 3 more once
    auto fixture = limited_pair(clock, nullptr, &limiter);
    queue_tx_frames(*fixture, 11, 64);

    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 5);  // burst and bucket
    REQUIRE(fixture->pair->tx_throttled());
    CHECK(*fixture->pair->tx_throttled() == 25ms);  // one frame's worth
    for (uint16_t interval = 1; interval <= 3; ++interval) {
        clock.now += 50ms;
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 5 + 2 * interval);
    }
    CHECK(fixture->tx_used_index() == 11);
    check_host_received(*fixture, 11, 64);
    CHECK(fixture->counters.tx_dropped == 0);
    CHECK(fixture->counters.tx_throttled == 3);
}

TEST_CASE("receive limited by bandwidth leaves frames in the backend and loses none",
          "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter limiter(bandwidth(1000, 100), clock.now);  // 1000 bytes per 100 ms
    auto fixture = limited_pair(clock, &limiter, nullptr);
    post_rx_buffers(*fixture, 10);  // more than needed: only the limit holds frames back
    for (uint16_t i = 0; i < 8; ++i) {
        fixture->backend.inject(frame_of(500, static_cast<uint8_t>(i)));
    }

    fixture->pair->process_rx();
    CHECK(fixture->rx.used_index() == 2);
    REQUIRE(fixture->pair->rx_throttled());
    CHECK(*fixture->pair->rx_throttled() == 50ms);
    CHECK(fixture->counters.rx_throttled == 1);
    // The third frame waits inside skiff; the other five stay in the
    // backend, which is not polled for more meanwhile.
    CHECK(backend_queued_bytes(*fixture) == 5 * 512);
    CHECK((fixture->pair->backend_interest() & EPOLLIN) == 0);
    CHECK(fixture->interrupt.queue_signals[0] == 1);

    for (uint16_t interval = 1; interval <= 2; ++interval) {
        clock.now += 100ms;
        fixture->pair->process_rx();
        CHECK(fixture->rx.used_index() == 2 + 2 * interval);
        CHECK(fixture->pair->rx_throttled());
        CHECK((fixture->pair->backend_interest() & EPOLLIN) == 0);
    }
    clock.now += 100ms;
    fixture->pair->process_rx();
    CHECK(backend_queued_bytes(*fixture) == 0);
    // The bucket is empty and nothing is waiting: polling the backend again.
    CHECK_FALSE(fixture->pair->rx_throttled());
    CHECK((fixture->pair->backend_interest() & EPOLLIN) != 0);
    CHECK(fixture->rx.used_index() == 8);
    for (uint16_t i = 0; i < 8; ++i) {
        INFO("frame " << i);
        auto expected = frame_of(500, static_cast<uint8_t>(i));
        auto copied = guest_bytes(fixture->memory, 0x10000 + 0x1000 * uint64_t{i}, expected.size());
        CHECK(std::equal(expected.begin() + 12, expected.end(), copied.begin() + 12));
    }
    CHECK(fixture->counters.rx_packets == 8);
    CHECK(fixture->counters.rx_bytes == 4000);
    CHECK(fixture->counters.rx_dropped == 0);
}

TEST_CASE("receive limited by ops passes the bucket's frames per interval", "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter limiter(ops(1, 10), clock.now);  // 100 frames/s
    auto fixture = limited_pair(clock, &limiter, nullptr);
    post_rx_buffers(*fixture, 4);
    for (uint16_t i = 0; i < 4; ++i) {
        fixture->backend.inject(frame_of(60, static_cast<uint8_t>(i)));
    }
    fixture->pair->process_rx();
    CHECK(fixture->rx.used_index() == 1);
    for (uint16_t interval = 1; interval <= 3; ++interval) {
        clock.now += 5ms;  // half an interval: nothing
        fixture->pair->process_rx();
        CHECK(fixture->rx.used_index() == interval);
        clock.now += 5ms;
        fixture->pair->process_rx();
        CHECK(fixture->rx.used_index() == interval + 1);
    }
    check_guest_received(*fixture, 4, 60);
    CHECK(fixture->counters.rx_dropped == 0);
}

TEST_CASE("a receive frame waiting for more buffers is charged once, when it moves", "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter limiter(ops(1, 3'600'000), clock.now);  // one frame, then an hour
    auto fixture = limited_pair(clock, &limiter, nullptr, /*mergeable=*/true);
    fixture->rx.set_descriptor(0, 0x10000, 64, kWrite);
    fixture->rx.publish(0);
    fixture->backend.inject(frame_of(100, 0));  // needs two 64-byte buffers
    fixture->pair->process_rx();
    CHECK(fixture->rx.used_index() == 0);
    CHECK_FALSE(fixture->pair->rx_throttled());
    fixture->rx.set_descriptor(1, 0x11000, 64, kWrite);
    fixture->rx.publish(1);
    fixture->pair->process_rx();  // the one token pays for it now
    CHECK(fixture->rx.used_index() == 2);
    CHECK(fixture->counters.rx_packets == 1);
    CHECK(fixture->counters.rx_throttled == 0);
}

TEST_CASE("new limits at run time apply at once and unblock a waiting direction", "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter tx(ops(1, 3'600'000), clock.now);  // one frame an hour
    auto fixture = limited_pair(clock, nullptr, &tx);
    queue_tx_frames(*fixture, 10, 100);
    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 1);
    CHECK(*fixture->pair->tx_throttled() == 1h);

    SECTION("raised: the waiting frames go") {
        tx.update(bandwidth(1000, 100), clock.now);  // full: the nine waiting 100-byte frames fit
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 10);
        check_host_received(*fixture, 10, 100);
    }
    SECTION("lifted: everything goes") {
        tx.update(RateLimiterConfig{}, clock.now);
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 10);
        CHECK_FALSE(fixture->pair->tx_throttled());
    }
    SECTION("raised, then lowered again") {
        tx.update(ops(4, 1000), clock.now);
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 5);
        tx.update(ops(2, 1000), clock.now);  // a full bucket of the new size
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 7);
        CHECK(*fixture->pair->tx_throttled() == 500ms);
        clock.now += 1500ms;
        fixture->pair->process_tx();
        CHECK(fixture->tx_used_index() == 9);
        clock.now += 500ms;
        fixture->pair->process_tx();
        check_host_received(*fixture, 10, 100);
    }
    CHECK(fixture->counters.tx_dropped == 0);
}

TEST_CASE("unlimited limiters leave the data path as it was", "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter rx;
    RateLimiter tx(RateLimiterConfig{.bandwidth = TokenBucketConfig{}, .ops = TokenBucketConfig{}});  // size 0
    auto fixture = limited_pair(clock, &rx, &tx);
    queue_tx_frames(*fixture, 16, 1400);
    post_rx_buffers(*fixture, 16);
    for (uint16_t i = 0; i < 16; ++i) {
        fixture->backend.inject(frame_of(1400, static_cast<uint8_t>(i)));
    }
    fixture->pair->process_rx();
    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() == 16);
    check_guest_received(*fixture, 16, 1400);
    CHECK_FALSE(fixture->pair->rx_throttled());
    CHECK_FALSE(fixture->pair->tx_throttled());
    CHECK(fixture->counters.rx_throttled == 0);
    CHECK(fixture->counters.tx_throttled == 0);
    CHECK(clock.reads == 0);  // not even asked for the time
}

TEST_CASE("a frame the full backend refused is not charged again", "[net][datapath][rate_limit]") {
    FakeClock clock;
    RateLimiter limiter(ops(16, 3'600'000), clock.now);  // exactly the 16 frames, then an hour
    auto fixture = limited_pair(clock, nullptr, &limiter);
    int small = 4096;
    REQUIRE(::setsockopt(fixture->backend.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
    queue_tx_frames(*fixture, 16, 1000);
    fixture->pair->process_tx();
    CHECK(fixture->tx_used_index() < 16);
    CHECK((fixture->pair->backend_interest() & EPOLLOUT) != 0);
    int drained = 0;
    for (int round = 0; round < 100 && fixture->tx_used_index() < 16; ++round) {
        while (!fixture->backend.take().empty()) {
            ++drained;
        }
        fixture->pair->process_tx();
    }
    while (!fixture->backend.take().empty()) {
        ++drained;
    }
    CHECK(fixture->tx_used_index() == 16);
    CHECK(drained == 16);
    CHECK(fixture->counters.tx_throttled == 0);
}
