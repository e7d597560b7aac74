#include "queue_pair_fixture.h"

#include <sys/epoll.h>

#include <catch2/catch.hpp>

#include <cstring>
#include <numeric>

using namespace skiff;
using skiff::testing::frame_of;
using skiff::testing::guest_bytes;

namespace {

constexpr uint16_t kWrite = virtio::ring::kDescriptorWrite;
constexpr uint16_t kNext = virtio::ring::kDescriptorNext;

using Fixture = skiff::testing::QueuePairFixture;

}  // namespace

TEST_CASE("receive copies a frame into one guest buffer", "[net][datapath]") {
    Fixture fixture;
    fixture.rx.set_descriptor(0, 0x10000, 2048, kWrite);
    fixture.rx.publish(0);
    auto frame = frame_of(100, 1);
    fixture.backend.inject(frame);
    fixture.pair->process_rx();

    REQUIRE(fixture.rx.used_index() == 1);
    CHECK(fixture.rx.used(0).id == 0);
    CHECK(fixture.rx.used(0).length == frame.size());
    auto copied = guest_bytes(fixture.memory, 0x10000, frame.size());
    uint16_t num_buffers = static_cast<uint16_t>(copied[10] | copied[11] << 8);
    CHECK(num_buffers == 1);
    CHECK(std::equal(frame.begin() + 12, frame.end(), copied.begin() + 12));
    CHECK(fixture.interrupt.queue_signals[0] == 1);
    CHECK(fixture.counters.rx_packets == 1);
    CHECK(fixture.counters.rx_bytes == 100);
}

TEST_CASE("receive spreads a frame over mergeable buffers", "[net][datapath]") {
    Fixture fixture(/*mergeable=*/true);
    for (uint16_t i = 0; i < 4; ++i) {
        fixture.rx.set_descriptor(i, 0x10000 + 0x1000 * i, 512, kWrite);
        fixture.rx.publish(i);
    }
    auto frame = frame_of(1200, 3);  // 1212 bytes: three 512-byte buffers
    fixture.backend.inject(frame);
    fixture.pair->process_rx();

    REQUIRE(fixture.rx.used_index() == 3);
    CHECK(fixture.rx.used(0).length == 512);
    CHECK(fixture.rx.used(1).length == 512);
    CHECK(fixture.rx.used(2).length == 1212 - 1024);
    auto first = guest_bytes(fixture.memory, 0x10000, 512);
    CHECK((first[10] | first[11] << 8) == 3);
    std::vector<uint8_t> joined = first;
    auto second = guest_bytes(fixture.memory, 0x11000, 512);
    auto third = guest_bytes(fixture.memory, 0x12000, 1212 - 1024);
    joined.insert(joined.end(), second.begin(), second.end());
    joined.insert(joined.end(), third.begin(), third.end());
    CHECK(std::equal(frame.begin() + 12, frame.end(), joined.begin() + 12));
}

TEST_CASE("receive applies back-pressure when the guest has no buffers", "[net][datapath]") {
    Fixture fixture(/*mergeable=*/true);
    fixture.backend.inject(frame_of(64, 5));
    fixture.backend.inject(frame_of(64, 6));
    fixture.pair->process_rx();
    // Nothing read: the frames wait in the backend, and skiff stops polling it.
    CHECK(fixture.rx.used_index() == 0);
    CHECK((fixture.pair->backend_interest() & EPOLLIN) == 0);
    CHECK(fixture.counters.rx_dropped == 0);

    SECTION("a frame too large for the buffers posted so far waits inside skiff, alone") {
        fixture.rx.set_descriptor(0, 0x10000, 40, kWrite);
        fixture.rx.publish(0);
        fixture.pair->process_rx();  // reads frame 1 (76 bytes), cannot place it
        CHECK(fixture.rx.used_index() == 0);
        CHECK((fixture.pair->backend_interest() & EPOLLIN) == 0);
        fixture.rx.set_descriptor(1, 0x11000, 40, kWrite);
        fixture.rx.publish(1);
        fixture.pair->process_rx();  // now it fits in two
        CHECK(fixture.rx.used_index() == 2);
        CHECK(fixture.counters.rx_packets == 1);
        CHECK(fixture.counters.rx_dropped == 0);
    }
    SECTION("buffers arrive: both frames are delivered in order") {
        for (uint16_t i = 0; i < 2; ++i) {
            fixture.rx.set_descriptor(i, 0x10000 + 0x1000 * i, 2048, kWrite);
            fixture.rx.publish(i);
        }
        fixture.pair->process_rx();
        CHECK(fixture.rx.used_index() == 2);
        CHECK(guest_bytes(fixture.memory, 0x10000 + 12, 1)[0] == static_cast<uint8_t>(5 + 12 * 7));
        CHECK(guest_bytes(fixture.memory, 0x11000 + 12, 1)[0] == static_cast<uint8_t>(6 + 12 * 7));
        // Out of buffers again: still not polling; one more buffer and it is.
        CHECK((fixture.pair->backend_interest() & EPOLLIN) == 0);
        fixture.rx.set_descriptor(2, 0x12000, 2048, kWrite);
        fixture.rx.publish(2);
        fixture.pair->process_rx();
        CHECK((fixture.pair->backend_interest() & EPOLLIN) != 0);
    }
}

TEST_CASE("receive drops a frame that no single buffer can hold without MRG_RXBUF", "[net][datapath]") {
    Fixture fixture(/*mergeable=*/false);
    fixture.rx.set_descriptor(0, 0x10000, 64, kWrite);
    fixture.rx.publish(0);
    fixture.backend.inject(frame_of(200, 9));
    fixture.pair->process_rx();
    REQUIRE(fixture.rx.used_index() == 1);
    CHECK(fixture.rx.used(0).length == 0);
    CHECK(fixture.counters.rx_dropped == 1);
    CHECK(fixture.resets.empty());
}

TEST_CASE("transmit sends each chain as one frame", "[net][datapath]") {
    Fixture fixture;
    auto frame = frame_of(300, 11);
    REQUIRE(fixture.memory.write(GuestAddress(0x20000), std::as_bytes(std::span(frame).first(12))).ok());
    REQUIRE(fixture.memory.write(GuestAddress(0x21000), std::as_bytes(std::span(frame).subspan(12))).ok());
    fixture.tx_descriptor(0, 0x20000, 12, kNext, 1);
    fixture.tx_descriptor(1, 0x21000, 300, 0);
    fixture.tx_publish(0);
    fixture.pair->process_tx();
    CHECK(fixture.tx_used_index() == 1);
    CHECK(fixture.backend.take() == frame);
    CHECK(fixture.counters.tx_packets == 1);
    CHECK(fixture.counters.tx_bytes == 300);
    CHECK(fixture.interrupt.queue_signals[1] == 1);
}

TEST_CASE("transmit keeps frames in the ring while the backend is full", "[net][datapath]") {
    Fixture fixture(false, net::kVnetHeaderSize + 65550);
    auto frame = frame_of(1000, 1);
    REQUIRE(fixture.memory.write(GuestAddress(0x100000), std::as_bytes(std::span(frame))).ok());
    for (uint16_t i = 0; i < 16; ++i) {
        fixture.tx_descriptor(i, 0x100000, static_cast<uint32_t>(frame.size()), 0);
    }
    // Shrink the socket buffer so that it fills after a few frames.
    int small = 4096;
    REQUIRE(::setsockopt(fixture.backend.fd(), SOL_SOCKET, SO_SNDBUF, &small, sizeof(small)) == 0);
    for (uint16_t i = 0; i < 16; ++i) {
        fixture.tx_publish(i);
    }
    fixture.pair->process_tx();
    uint16_t sent = fixture.tx_used_index();
    CHECK(sent < 16);
    CHECK((fixture.pair->backend_interest() & EPOLLOUT) != 0);
    CHECK(fixture.counters.tx_dropped == 0);
    // The host drains; the rest goes out, none lost.
    int drained = 0;
    while (fixture.tx_used_index() < 16 && drained < 100) {
        while (!fixture.backend.take().empty()) {
            ++drained;
        }
        fixture.pair->process_tx();
    }
    while (!fixture.backend.take().empty()) {
        ++drained;
    }
    CHECK(fixture.tx_used_index() == 16);
    CHECK(drained == 16);
    CHECK(fixture.counters.tx_packets == 16);
}

TEST_CASE("hostile transmit chains are dropped, hostile rings need a reset", "[net][datapath][hostile]") {
    Fixture fixture;
    SECTION("a chain shorter than the header") {
        fixture.tx_descriptor(0, 0x20000, 4, 0);
        fixture.tx_publish(0);
        fixture.pair->process_tx();
        CHECK(fixture.tx_used_index() == 1);
        CHECK(fixture.counters.tx_dropped == 1);
        CHECK(fixture.backend.take().empty());
        CHECK(fixture.resets.empty());
    }
    SECTION("a chain with a device-writable buffer") {
        fixture.tx_descriptor(0, 0x20000, 64, kNext, 1);
        fixture.tx_descriptor(1, 0x21000, 64, kWrite);
        fixture.tx_publish(0);
        fixture.pair->process_tx();
        CHECK(fixture.counters.tx_dropped == 1);
        CHECK(fixture.backend.take().empty());
    }
    SECTION("an over-long frame") {
        fixture.tx_descriptor(0, 0x20000, 0x10000, 0);
        fixture.tx_publish(0);
        fixture.pair->process_tx();
        CHECK(fixture.counters.tx_dropped == 1);
    }
    SECTION("a descriptor loop fails the queue once, the pair stops") {
        fixture.tx_descriptor(0, 0x20000, 64, kNext, 0);
        fixture.tx_publish(0);
        fixture.pair->process_tx();
        fixture.pair->process_tx();
        fixture.pair->process_rx();
        REQUIRE(fixture.resets.size() == 1);
        CHECK(fixture.resets[0].find("transmit queue") != std::string::npos);
        CHECK(fixture.pair->failed());
        CHECK(fixture.pair->backend_interest() == 0);
    }
    SECTION("a receive buffer outside guest memory") {
        fixture.rx.set_descriptor(0, 0x1ffff0, 0x100, kWrite);
        fixture.rx.publish(0);
        fixture.backend.inject(frame_of(64, 1));
        fixture.pair->process_rx();
        REQUIRE(fixture.resets.size() == 1);
        CHECK(fixture.resets[0].find("receive queue") != std::string::npos);
        CHECK(fixture.rx.used_index() == 0);
    }
}
