#include "devices/virtio/queue.h"
#include "virtio_test_ring.h"

#include <catch2/catch.hpp>

#include <random>

using namespace skiff;
using namespace skiff::virtio;
using skiff::testing::DriverRing;

namespace {

constexpr uint16_t kNext = ring::kDescriptorNext;
constexpr uint16_t kWrite = ring::kDescriptorWrite;
constexpr uint16_t kIndirect = ring::kDescriptorIndirect;
constexpr uint64_t kMemorySize = 0x100000;

GuestMemory make_memory() {
    auto memory = GuestMemory::create({{GuestAddress(0), kMemorySize}});
    REQUIRE(memory.ok());
    return std::move(memory).value();
}

Queue make_queue(const GuestMemory& memory, const DriverRing& driver, bool event_index = false,
                 bool indirect = true) {
    auto queue = Queue::create(driver.config(), memory, event_index, indirect);
    REQUIRE(queue.ok());
    return std::move(queue).value();
}

// Pops one chain and expects the pop to fail with a message containing `what`.
void expect_pop_error(const GuestMemory& memory, Queue& queue, const std::string& what) {
    DescriptorChain chain;
    auto popped = queue.pop(memory, chain);
    REQUIRE_FALSE(popped.ok());
    INFO(popped.error().message);
    CHECK(popped.error().message.find(what) != std::string::npos);
}

}  // namespace

TEST_CASE("queue creation checks size, alignment and ring placement", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 256);
    QueueConfig config = driver.config();
    CHECK(Queue::create(config, memory, false, false).ok());

    for (uint16_t size : {0, 3, 100, 512, 65535}) {
        QueueConfig bad = config;
        bad.size = size;
        CHECK_FALSE(Queue::create(bad, memory, false, false).ok());
    }
    QueueConfig misaligned = config;
    misaligned.descriptor_table = GuestAddress(0x1008);
    CHECK_FALSE(Queue::create(misaligned, memory, false, false).ok());
    misaligned = config;
    misaligned.used_ring = GuestAddress(0x4002);
    CHECK_FALSE(Queue::create(misaligned, memory, false, false).ok());
    misaligned = config;
    misaligned.available_ring = GuestAddress(0x3001);
    CHECK_FALSE(Queue::create(misaligned, memory, false, false).ok());

    QueueConfig outside = config;
    outside.used_ring = GuestAddress(kMemorySize - 8);  // used ring runs past the end
    CHECK_FALSE(Queue::create(outside, memory, false, false).ok());
    outside = config;
    outside.descriptor_table = GuestAddress(0xfffffffffffff000);
    CHECK_FALSE(Queue::create(outside, memory, false, false).ok());
}

TEST_CASE("queue pops chains split into readable and writable parts", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 16);
    Queue queue = make_queue(memory, driver);
    DescriptorChain chain;
    CHECK_FALSE(queue.pop(memory, chain).value());

    driver.set_descriptor(3, 0x10000, 12, kNext, 7);
    driver.set_descriptor(7, 0x11000, 100, kNext | kWrite, 1);
    driver.set_descriptor(1, 0x12000, 200, kWrite);
    driver.publish(3);
    REQUIRE(queue.pop(memory, chain).value());
    CHECK(chain.head() == 3);
    REQUIRE(chain.readable().size() == 1);
    CHECK(chain.readable()[0].address == GuestAddress(0x10000));
    CHECK(chain.readable()[0].length == 12);
    REQUIRE(chain.writable().size() == 2);
    CHECK(chain.writable()[1].address == GuestAddress(0x12000));
    CHECK(chain.readable_bytes() == 12);
    CHECK(chain.writable_bytes() == 300);
    CHECK_FALSE(queue.pop(memory, chain).value());

    queue.add_used(3, 300);
    CHECK(driver.used_index() == 1);
    CHECK(driver.used(0).id == 3);
    CHECK(driver.used(0).length == 300);
}

TEST_CASE("queue indices wrap around 65535", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 4);
    Queue queue = make_queue(memory, driver);
    driver.set_descriptor(0, 0x10000, 64, 0);
    DescriptorChain chain;
    for (int round = 0; round < 70000; ++round) {
        driver.publish(0);
        REQUIRE(queue.pop(memory, chain).value());
        queue.add_used(0, 0);
    }
    CHECK(queue.next_available() == static_cast<uint16_t>(70000));
    CHECK(driver.used_index() == static_cast<uint16_t>(70000));
}

TEST_CASE("undo_pop returns chains in order", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 8);
    Queue queue = make_queue(memory, driver);
    for (uint16_t i = 0; i < 3; ++i) {
        driver.set_descriptor(i, 0x10000 + 0x1000 * i, 64, kWrite);
        driver.publish(i);
    }
    DescriptorChain chain;
    REQUIRE(queue.pop(memory, chain).value());
    REQUIRE(queue.pop(memory, chain).value());
    queue.undo_pop(1);
    REQUIRE(queue.pop(memory, chain).value());
    CHECK(chain.head() == 1);
    REQUIRE(queue.pop(memory, chain).value());
    CHECK(chain.head() == 2);
}

TEST_CASE("indirect descriptor tables are followed and checked", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 8);
    const GuestAddress table(0x20000);
    driver.write_descriptor(table, 0x30000, 12, kNext, 1);
    driver.write_descriptor(table + 16, 0x31000, 1500, kNext, 2);
    driver.write_descriptor(table + 32, 0x32000, 8, kWrite, 0);
    driver.set_descriptor(0, table.value(), 48, kIndirect);
    driver.publish(0);

    SECTION("a valid table") {
        Queue queue = make_queue(memory, driver);
        DescriptorChain chain;
        REQUIRE(queue.pop(memory, chain).value());
        CHECK(chain.head() == 0);
        CHECK(chain.readable().size() == 2);
        CHECK(chain.readable_bytes() == 1512);
        CHECK(chain.writable_bytes() == 8);
    }
    SECTION("not negotiated") {
        Queue queue = make_queue(memory, driver, false, false);
        expect_pop_error(memory, queue, "not negotiated");
    }
    SECTION("indirect with NEXT") {
        driver.set_descriptor(0, table.value(), 48, kIndirect | kNext, 1);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "NEXT");
    }
    SECTION("table length not a multiple of 16") {
        driver.set_descriptor(0, table.value(), 40, kIndirect);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "multiple of 16");
    }
    SECTION("empty and oversized tables") {
        driver.set_descriptor(0, table.value(), 0, kIndirect);
        Queue empty = make_queue(memory, driver);
        expect_pop_error(memory, empty, "indirect table");
        driver.set_descriptor(0, table.value(), 16 * (kMaxIndirectDescriptors + 1), kIndirect);
        Queue huge = make_queue(memory, driver);
        expect_pop_error(memory, huge, "indirect table");
    }
    SECTION("table outside memory") {
        driver.set_descriptor(0, kMemorySize - 32, 48, kIndirect);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "outside guest memory");
    }
    SECTION("nested indirect") {
        driver.write_descriptor(table + 16, 0x20000, 48, kIndirect, 0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "indirect table holds an indirect");
    }
    SECTION("loop inside the table") {
        driver.write_descriptor(table + 32, 0x32000, 8, kWrite | kNext, 0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "loop");
    }
    SECTION("link out of the table") {
        driver.write_descriptor(table + 32, 0x32000, 8, kWrite | kNext, 3);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "entry 3 of 3");
    }
}

TEST_CASE("hostile chains are refused with a reason", "[virtio][queue][hostile]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 8);

    SECTION("a descriptor loop") {
        driver.set_descriptor(0, 0x10000, 16, kNext, 1);
        driver.set_descriptor(1, 0x10000, 16, kNext, 0);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "loop");
    }
    SECTION("a self loop") {
        driver.set_descriptor(5, 0x10000, 16, kNext, 5);
        driver.publish(5);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "loop");
    }
    SECTION("a head beyond the queue") {
        driver.publish(8);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "names descriptor 8");
    }
    SECTION("a next beyond the queue") {
        driver.set_descriptor(0, 0x10000, 16, kNext, 200);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "links to descriptor 200");
    }
    SECTION("a buffer outside guest memory") {
        driver.set_descriptor(0, kMemorySize, 1, 0);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "outside guest memory");
    }
    SECTION("a buffer whose length runs past the end") {
        driver.set_descriptor(0, kMemorySize - 0x100, 0x101, kWrite);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "outside guest memory");
    }
    SECTION("an address + length that overflows 64 bits") {
        driver.set_descriptor(0, 0xffffffffffffff00, 0x1000, 0);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "outside guest memory");
    }
    SECTION("a readable buffer after a writable one") {
        driver.set_descriptor(0, 0x10000, 16, kWrite | kNext, 1);
        driver.set_descriptor(1, 0x11000, 16, 0);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "readable descriptor after");
    }
    SECTION("an available index far ahead of the device") {
        driver.set_available_index(9);
        Queue queue = make_queue(memory, driver);
        expect_pop_error(memory, queue, "ahead");
        auto available = queue.has_available(memory);
        CHECK_FALSE(available.ok());
    }
    SECTION("an available index that went backwards") {
        driver.set_descriptor(0, 0x10000, 16, 0);
        driver.publish(0);
        Queue queue = make_queue(memory, driver);
        DescriptorChain chain;
        REQUIRE(queue.pop(memory, chain).value());
        driver.set_available_index(0);
        expect_pop_error(memory, queue, "ahead");
    }
}

TEST_CASE("interrupt suppression without EVENT_IDX follows NO_INTERRUPT", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 8);
    Queue queue = make_queue(memory, driver);
    queue.add_used(0, 0);
    CHECK(queue.needs_notification());
    CHECK_FALSE(queue.needs_notification());  // nothing new since
    driver.set_available_flags(ring::kAvailableNoInterrupt);
    queue.add_used(0, 0);
    CHECK_FALSE(queue.needs_notification());
    driver.set_available_flags(0);
    queue.add_used(0, 0);
    CHECK(queue.needs_notification());

    queue.disable_notification();
    CHECK(driver.used_flags() == ring::kUsedNoNotify);
    CHECK_FALSE(queue.enable_notification());
    CHECK(driver.used_flags() == 0);
    driver.set_descriptor(0, 0x10000, 16, 0);
    driver.publish(0);
    CHECK(queue.enable_notification());  // work arrived: caller must look
}

TEST_CASE("interrupt suppression with EVENT_IDX follows used_event", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 8);
    Queue queue = make_queue(memory, driver, /*event_index=*/true);
    driver.set_used_event(0);
    queue.add_used(0, 0);  // used index 1 passes event 0
    CHECK(queue.needs_notification());
    driver.set_used_event(3);  // driver wants an interrupt once entry 3 is used
    queue.add_used(0, 0);      // 2
    CHECK_FALSE(queue.needs_notification());
    queue.add_used(0, 0);  // 3
    CHECK_FALSE(queue.needs_notification());
    queue.add_used(0, 0);  // 4: passes 3
    CHECK(queue.needs_notification());
    // A batch that crosses the event index in one go also interrupts.
    driver.set_used_event(5);
    queue.add_used(0, 0);
    queue.add_used(0, 0);
    queue.add_used(0, 0);
    CHECK(queue.needs_notification());

    driver.set_descriptor(0, 0x10000, 16, 0);
    driver.publish(0);
    DescriptorChain chain;
    REQUIRE(queue.pop(memory, chain).value());
    CHECK_FALSE(queue.enable_notification());
    CHECK(driver.avail_event() == 1);
}

TEST_CASE("random ring contents never escape guest memory", "[virtio][queue][hostile]") {
    GuestMemory memory = make_memory();
    std::mt19937_64 random(1234);
    auto span = memory.slice(GuestAddress(0), 0x8000).value();
    int popped = 0;
    int refused = 0;
    for (int round = 0; round < 2000; ++round) {
        for (auto& byte : span) {
            byte = static_cast<std::byte>(random());
        }
        DriverRing driver(memory, 64);
        auto queue = Queue::create(driver.config(), memory, round % 2 == 0, true);
        REQUIRE(queue.ok());
        DescriptorChain chain;
        for (int i = 0; i < 70; ++i) {
            auto result = queue->pop(memory, chain);
            if (!result.ok()) {
                ++refused;
                break;
            }
            if (!result.value()) {
                break;
            }
            ++popped;
            for (const Descriptor& descriptor : chain.readable()) {
                REQUIRE(memory.contains(descriptor.address, descriptor.length));
            }
            for (const Descriptor& descriptor : chain.writable()) {
                REQUIRE(memory.contains(descriptor.address, descriptor.length));
            }
        }
    }
    INFO("popped " << popped << ", refused " << refused);
    CHECK(refused > 0);
}

TEST_CASE("a device short of buffers waits for chains beyond those it gave back", "[virtio][queue]") {
    GuestMemory memory = make_memory();
    DriverRing driver(memory, 8);
    Queue queue = make_queue(memory, driver, /*event_index=*/true);
    for (uint16_t i = 0; i < 2; ++i) {
        driver.set_descriptor(i, 0x10000 + 0x1000 * i, 64, ring::kDescriptorWrite);
        driver.publish(i);
    }
    uint16_t seen = queue.published();
    DescriptorChain chain;
    REQUIRE(queue.pop(memory, chain).value());
    REQUIRE(queue.pop(memory, chain).value());
    queue.undo_pop(2);  // not enough for the frame
    CHECK_FALSE(queue.enable_notification_beyond(seen));
    CHECK(driver.avail_event() == 2);  // a notification comes with the third chain
    driver.set_descriptor(2, 0x12000, 64, ring::kDescriptorWrite);
    driver.publish(2);
    CHECK(queue.enable_notification_beyond(seen));
}
