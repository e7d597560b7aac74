// A net::QueuePair on two driver rings in fake guest memory and a
// socket-pair backend, for the data path's unit tests: receive ring at
// DriverRing's place (0x1000..), transmit ring at 0x40000...
#pragma once

#include "fake_net_backend.h"
#include "net/queue_pair.h"
#include "virtio_test_ring.h"

#include <catch2/catch.hpp>

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace skiff::testing {

class RecordingInterrupt final : public virtio::VirtioInterrupt {
public:
    void signal_queue(uint16_t queue) override { ++queue_signals[queue]; }
    void signal_config() override { ++config_signals; }
    int queue_signals[2] = {0, 0};
    int config_signals = 0;
};

struct QueuePairFixture {
    GuestMemory memory = GuestMemory::create({{GuestAddress(0), 0x200000}}).value();
    DriverRing rx{memory, 16};
    DriverRing tx_ring{memory, 16};
    FakeNetBackend backend;
    RecordingInterrupt interrupt;
    net::NetCounters counters;
    std::vector<std::string> resets;
    std::unique_ptr<net::QueuePair> pair;
    virtio::QueueConfig tx_ring_config;
    uint16_t tx_published = 0;

    // `adjust` changes the options before the pair is made (limiters, clock).
    explicit QueuePairFixture(bool mergeable = false, size_t max_frame = net::kVnetHeaderSize + 1518,
                              const std::function<void(net::QueuePairOptions&)>& adjust = {}) {
        virtio::QueueConfig tx_config = rx.config();
        tx_config.descriptor_table = GuestAddress(0x40000);
        tx_config.available_ring = GuestAddress(0x42000);
        tx_config.used_ring = GuestAddress(0x43000);
        tx_ring_config = tx_config;
        net::QueuePairOptions options;
        options.mergeable_rx_buffers = mergeable;
        options.max_frame = max_frame;
        if (adjust) {
            adjust(options);
        }
        pair = std::make_unique<net::QueuePair>(
            memory, virtio::Queue::create(rx.config(), memory, false, true).value(),
            virtio::Queue::create(tx_config, memory, false, true).value(), backend, interrupt, counters, options,
            [this](std::string_view reason) { resets.emplace_back(reason); });
    }

    // The transmit ring is not at DriverRing's default place: write it by hand.
    void tx_descriptor(uint16_t index, uint64_t address, uint32_t length, uint16_t flags, uint16_t next = 0) {
        tx_ring.write_descriptor(GuestAddress(0x40000 + 16 * uint64_t{index}), address, length, flags, next);
    }
    void tx_publish(uint16_t head) {
        REQUIRE(memory.write_object(GuestAddress(0x42000 + 4 + 2 * uint64_t(tx_published % 16)), head).ok());
        ++tx_published;
        REQUIRE(memory.write_object(GuestAddress(0x42002), tx_published).ok());
    }
    uint16_t tx_used_index() { return memory.read_object<uint16_t>(GuestAddress(0x43002)).value(); }
};

// A frame of `payload` bytes after the 12-byte header, its bytes derived
// from `seed`.
inline std::vector<uint8_t> frame_of(size_t payload, uint8_t seed) {
    std::vector<uint8_t> frame(net::kVnetHeaderSize + payload);
    for (size_t i = net::kVnetHeaderSize; i < frame.size(); ++i) {
        frame[i] = static_cast<uint8_t>(seed + i * 7);
    }
    return frame;
}

inline std::vector<uint8_t> guest_bytes(const GuestMemory& memory, uint64_t address, size_t length) {
    std::vector<uint8_t> bytes(length);
    REQUIRE(memory.read(GuestAddress(address), std::as_writable_bytes(std::span(bytes))).ok());
    return bytes;
}

}  // namespace skiff::testing
