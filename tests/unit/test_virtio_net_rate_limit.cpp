// The in-process virtio-net device under rate limits, through the real
// virtio-mmio transport and event loop: a throttled direction resumes on
// its timer, update_rate_limiters() from another thread applies at once,
// and a reset leaves no timer behind. Real time, but only tens of
// milliseconds of it.
#include "devices/virtio/mmio_registers.h"
#include "devices/virtio/net/features.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/virtio_mmio.h"
#include "mmio_access.h"
#include "queue_pair_fixture.h"
#include "vhost_recorder.h"
#include "vmm/event_loop.h"

#include <catch2/catch.hpp>

#include <chrono>
#include <cstring>
#include <thread>

using namespace skiff;
using namespace skiff::virtio;
using namespace std::chrono_literals;
using skiff::testing::DriverRing;
using skiff::testing::FakeNetBackend;
using skiff::testing::frame_of;
using net::RateLimiterConfig;
using net::TokenBucketConfig;

namespace {

constexpr GuestAddress kMmioBase(0xd0000000);
constexpr uint16_t kRingSize = 16;
// The transmit ring (the receive ring is at DriverRing's place).
constexpr uint64_t kTxDescriptors = 0x40000;
constexpr uint64_t kTxAvailable = 0x42000;
constexpr uint64_t kTxUsed = 0x43000;

using skiff::test::mmio_read;
using skiff::test::mmio_write;

RateLimiterConfig ops(uint64_t size, uint64_t refill_ms) {
    TokenBucketConfig bucket{.size = size, .one_time_burst = 0, .refill_time_ms = refill_ms};
    return RateLimiterConfig{.bandwidth = std::nullopt, .ops = bucket};
}

struct Machine {
    GuestMemory memory = GuestMemory::create({{GuestAddress(0), 0x200000}}).value();
    std::unique_ptr<EventLoop> loop = EventLoop::create().value();
    FakeNetBackend* tap = nullptr;
    std::shared_ptr<VirtioNet> net;
    std::shared_ptr<VirtioMmio> transport;
    DriverRing rx{memory, kRingSize};
    uint16_t tx_published = 0;

    explicit Machine(const RateLimiterConfig& rx_limit, const RateLimiterConfig& tx_limit,
                     std::unique_ptr<vhost::VhostNetBackend> vhost = nullptr) {
        auto backend = std::make_unique<FakeNetBackend>();
        tap = backend.get();
        VirtioNetOptions options{.name = "net0", .mac = {2, 0, 0, 0, 0, 1}, .mtu = {}};
        options.rx_rate_limiter = rx_limit;
        options.tx_rate_limiter = tx_limit;
        net = std::make_shared<VirtioNet>(options, std::move(backend), *loop, std::move(vhost));
        transport = VirtioMmio::create(net, memory, kMmioBase, nullptr).value();
    }

    // Fresh rings, features negotiated, DRIVER_OK.
    void bring_up() {
        std::vector<std::byte> zeros(0x50000);
        REQUIRE(memory.write(GuestAddress(0), zeros).ok());
        rx.set_available_index(0);
        tx_published = 0;
        const uint64_t features = feature_bit(feature::kVersion1) | feature_bit(net_feature::kMac);
        mmio_write(*transport, mmio::kStatus, 0);
        mmio_write(*transport, mmio::kStatus, status::kAcknowledge | status::kDriver);
        mmio_write(*transport, mmio::kDriverFeaturesSel, 1);
        mmio_write(*transport, mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
        mmio_write(*transport, mmio::kDriverFeaturesSel, 0);
        mmio_write(*transport, mmio::kDriverFeatures, static_cast<uint32_t>(features));
        mmio_write(*transport, mmio::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
        const uint64_t rings[2][3] = {
            {DriverRing::kDescriptors.value(), DriverRing::kAvailable.value(), DriverRing::kUsed.value()},
            {kTxDescriptors, kTxAvailable, kTxUsed}};
        for (uint32_t q = 0; q < 2; ++q) {
            mmio_write(*transport, mmio::kQueueSel, q);
            mmio_write(*transport, mmio::kQueueNum, kRingSize);
            mmio_write(*transport, mmio::kQueueDescLow, static_cast<uint32_t>(rings[q][0]));
            mmio_write(*transport, mmio::kQueueDescHigh, 0);
            mmio_write(*transport, mmio::kQueueDriverLow, static_cast<uint32_t>(rings[q][1]));
            mmio_write(*transport, mmio::kQueueDriverHigh, 0);
            mmio_write(*transport, mmio::kQueueDeviceLow, static_cast<uint32_t>(rings[q][2]));
            mmio_write(*transport, mmio::kQueueDeviceHigh, 0);
            mmio_write(*transport, mmio::kQueueReady, 1);
        }
        mmio_write(*transport, mmio::kStatus,
                   status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
        REQUIRE((mmio_read(*transport, mmio::kStatus) & status::kDriverOk) != 0);
        REQUIRE((mmio_read(*transport, mmio::kStatus) & status::kDeviceNeedsReset) == 0);
    }

    void reset() { mmio_write(*transport, mmio::kStatus, 0); }

    // Frames 0..count-1 of 64 bytes on the transmit ring, then a notification.
    void send(uint16_t count) {
        for (uint16_t i = 0; i < count; ++i) {
            auto frame = frame_of(64, static_cast<uint8_t>(i));
            uint64_t address = 0x100000 + 0x1000 * uint64_t{i};
            REQUIRE(memory.write(GuestAddress(address), std::as_bytes(std::span(frame))).ok());
            rx.write_descriptor(GuestAddress(kTxDescriptors + 16 * uint64_t{i}), address,
                                static_cast<uint32_t>(frame.size()), 0, 0);  // any ring writes memory
            REQUIRE(memory.write_object(GuestAddress(kTxAvailable + 4 + 2 * uint64_t(tx_published % kRingSize)), i)
                        .ok());
            ++tx_published;
            REQUIRE(memory.write_object(GuestAddress(kTxAvailable + 2), tx_published).ok());
        }
        mmio_write(*transport, mmio::kQueueNotify, 1);
    }
    uint16_t tx_used() { return memory.read_object<uint16_t>(GuestAddress(kTxUsed + 2)).value(); }

    // `count` 2048-byte receive buffers, then a notification.
    void post_rx_buffers(uint16_t count) {
        for (uint16_t i = 0; i < count; ++i) {
            rx.set_descriptor(i, 0x10000 + 0x1000 * uint64_t{i}, 2048, virtio::ring::kDescriptorWrite);
            rx.publish(i);
        }
        mmio_write(*transport, mmio::kQueueNotify, 0);
    }

    // Runs the loop until `done` or `limit` passed; returns the time taken.
    template <typename Done>
    std::chrono::steady_clock::duration run_until(Done done, std::chrono::milliseconds limit = 5s) {
        auto start = std::chrono::steady_clock::now();
        while (!done() && std::chrono::steady_clock::now() - start < limit) {
            REQUIRE(loop->run_once(10).ok());
        }
        return std::chrono::steady_clock::now() - start;
    }
    // Runs the loop for `period` whatever happens.
    void run_for(std::chrono::milliseconds period) {
        run_until([] { return false; }, period);
    }
};

}  // namespace

TEST_CASE("virtio-net: a throttled transmit queue resumes on its timer", "[net][rate_limit][virtio_net]") {
    Machine machine(RateLimiterConfig{}, ops(1, 20));  // 50 frames/s
    machine.bring_up();
    machine.send(3);
    auto took = machine.run_until([&] { return machine.tx_used() == 3; });
    CHECK(machine.tx_used() == 3);
    CHECK(took >= 40ms);  // a full bucket of one, then two refills
    for (uint8_t i = 0; i < 3; ++i) {
        CHECK(machine.tap->take() == frame_of(64, i));
    }
    net::NetCounterValues counters = machine.net->counter_values();
    CHECK(counters.tx_packets == 3);
    CHECK(counters.tx_throttled >= 2);
    CHECK(counters.tx_dropped == 0);
}

TEST_CASE("virtio-net: a throttled receive queue resumes on its timer", "[net][rate_limit][virtio_net]") {
    Machine machine(ops(1, 20), RateLimiterConfig{});
    machine.bring_up();
    machine.post_rx_buffers(4);
    for (uint8_t i = 0; i < 3; ++i) {
        machine.tap->inject(frame_of(64, i));
    }
    auto took = machine.run_until([&] { return machine.rx.used_index() == 3; });
    CHECK(machine.rx.used_index() == 3);
    CHECK(took >= 40ms);
    net::NetCounterValues counters = machine.net->counter_values();
    CHECK(counters.rx_packets == 3);
    CHECK(counters.rx_throttled >= 2);
    CHECK(counters.rx_dropped == 0);
    // Input is watched again once nothing waits: one more frame comes in.
    machine.tap->inject(frame_of(64, 3));
    machine.run_until([&] { return machine.rx.used_index() == 4; });
    CHECK(machine.rx.used_index() == 4);
}

TEST_CASE("virtio-net: new limits from another thread unblock a waiting queue at once",
          "[net][rate_limit][virtio_net]") {
    Machine machine(ops(1, 3'600'000), ops(1, 3'600'000));  // one frame an hour each way
    machine.bring_up();
    machine.send(4);
    machine.run_until([&] { return machine.tx_used() == 1; });
    machine.run_for(30ms);
    CHECK(machine.tx_used() == 1);

    SECTION("lifted") {
        std::thread api([&] { CHECK(machine.net->update_rate_limiters(std::nullopt, RateLimiterConfig{}).ok()); });
        api.join();
        machine.run_until([&] { return machine.tx_used() == 4; }, 1s);
        CHECK(machine.tx_used() == 4);
        // rx was left as it was: one frame, then an hour.
        machine.post_rx_buffers(2);
        machine.tap->inject(frame_of(64, 0));
        machine.tap->inject(frame_of(64, 1));
        machine.run_for(30ms);
        CHECK(machine.rx.used_index() == 1);
    }
    SECTION("raised to a bucket of two") {
        std::thread api([&] { CHECK(machine.net->update_rate_limiters(std::nullopt, ops(2, 3'600'000)).ok()); });
        api.join();
        machine.run_until([&] { return machine.tx_used() == 3; }, 1s);
        machine.run_for(30ms);
        CHECK(machine.tx_used() == 3);
    }
    for (uint8_t i = 0; i < machine.tx_used(); ++i) {
        CHECK(machine.tap->take() == frame_of(64, i));
    }
}

TEST_CASE("virtio-net: a reset while throttled leaves no timer; the limits outlive it",
          "[net][rate_limit][virtio_net]") {
    Machine machine(RateLimiterConfig{}, ops(1, 30));
    machine.bring_up();
    machine.send(3);
    machine.run_until([&] { return machine.tx_used() == 1; });
    REQUIRE(machine.tx_used() == 1);
    machine.reset();
    machine.run_for(100ms);  // the timer would have fired twice by now
    CHECK(machine.tx_used() == 1);
    CHECK(machine.tap->take() == frame_of(64, 0));
    CHECK(machine.tap->take().empty());
    // Updates while reset are kept for the next activation.
    CHECK(machine.net->update_rate_limiters(std::nullopt, ops(1, 20)).ok());

    machine.bring_up();
    machine.send(3);
    auto took = machine.run_until([&] { return machine.tx_used() == 3; });
    CHECK(machine.tx_used() == 3);
    CHECK(took >= 40ms);  // the 20 ms limit, still in force
    for (uint8_t i = 0; i < 3; ++i) {
        CHECK(machine.tap->take() == frame_of(64, i));
    }
}

TEST_CASE("virtio-net: vhost mode refuses rate limiter updates", "[net][rate_limit][virtio_net][vhost]") {
    skiff::testing::VhostRecorder recorder;
    recorder.features = feature_bit(feature::kVersion1);
    Machine machine(RateLimiterConfig{}, RateLimiterConfig{}, recorder.backend());
    auto updated = machine.net->update_rate_limiters(ops(1, 10), std::nullopt);
    REQUIRE_FALSE(updated.ok());
    CHECK_THAT(updated.error().message, Catch::Contains("vhost"));
    CHECK(machine.net->update_rate_limiters(std::nullopt, std::nullopt).ok());
}

// (Not a rate limit, but the same device on the same fixture.) A tap that
// goes away (deleted under a running VM: its fd hangs up) takes the link
// down: the status field says so, the driver gets a configuration change
// interrupt, the backend is no longer polled, and frames the guest still
// sends are completed and counted as dropped.
TEST_CASE("virtio-net: a backend that hangs up takes the link down", "[net][virtio_net]") {
    Machine machine(RateLimiterConfig{}, RateLimiterConfig{});
    machine.bring_up();
    const uint64_t status_register = mmio::kConfig + 6;  // virtio_net_config.status
    CHECK((mmio_read(*machine.transport, status_register) & 0xffff) == 1);
    const uint32_t generation = mmio_read(*machine.transport, mmio::kConfigGeneration);

    REQUIRE(::shutdown(machine.tap->peer(), SHUT_RDWR) == 0);
    machine.run_for(30ms);
    CHECK((mmio_read(*machine.transport, status_register) & 0xffff) == 0);
    CHECK((mmio_read(*machine.transport, mmio::kInterruptStatus) & mmio::kInterruptConfigChange) != 0);
    CHECK(mmio_read(*machine.transport, mmio::kConfigGeneration) != generation);

    machine.send(3);
    machine.run_until([&] { return machine.tx_used() == 3; });
    CHECK(machine.tx_used() == 3);
    CHECK(machine.net->counter_values().tx_dropped == 3);

    // A new activation after the loss does not poll the dead fd again.
    machine.reset();
    machine.bring_up();
    machine.run_for(20ms);
    CHECK((mmio_read(*machine.transport, status_register) & 0xffff) == 0);
}
