#include "vmm/guest_memory.h"

#include <catch2/catch.hpp>

#include <array>

using skiff::GuestAddress;
using skiff::GuestMemory;

namespace {

GuestMemory two_regions() {
    auto memory = GuestMemory::create({{GuestAddress(0), 0x10000}, {GuestAddress(0x100000), 0x2000}});
    REQUIRE(memory.ok());
    return std::move(memory).value();
}

}  // namespace

TEST_CASE("guest memory rejects bad layouts", "[memory]") {
    CHECK_FALSE(GuestMemory::create({{GuestAddress(0), 0}}).ok());
    CHECK_FALSE(GuestMemory::create({{GuestAddress(0x800), 0x1000}}).ok());
    CHECK_FALSE(GuestMemory::create({{GuestAddress(0), 0x1800}}).ok());
    CHECK_FALSE(GuestMemory::create({{GuestAddress(0), 0x2000}, {GuestAddress(0x1000), 0x1000}}).ok());
    CHECK_FALSE(GuestMemory::create({{GuestAddress(0xfffffffffffff000), 0x2000}}).ok());
}

TEST_CASE("guest memory translates checked ranges", "[memory]") {
    GuestMemory memory = two_regions();
    CHECK(memory.total_size() == 0x12000);
    CHECK(memory.end() == GuestAddress(0x102000));

    CHECK(memory.slice(GuestAddress(0), 0x10000).ok());
    CHECK(memory.slice(GuestAddress(0xfff0), 0x10).ok());
    CHECK(memory.slice(GuestAddress(0x10000), 0).ok());  // empty range at the end
    CHECK_FALSE(memory.slice(GuestAddress(0xfff0), 0x11).ok());  // crosses the region end
    CHECK_FALSE(memory.slice(GuestAddress(0x10000), 1).ok());    // in the gap
    CHECK_FALSE(memory.slice(GuestAddress(0x80000), 4).ok());
    CHECK(memory.slice(GuestAddress(0x101ffc), 4).ok());
    CHECK_FALSE(memory.slice(GuestAddress(0x101ffc), 5).ok());
    CHECK_FALSE(memory.slice(GuestAddress(0x200000), 1).ok());
}

TEST_CASE("guest memory rejects lengths that overflow", "[memory]") {
    GuestMemory memory = two_regions();
    CHECK_FALSE(memory.slice(GuestAddress(0x10), UINT64_MAX).ok());
    CHECK_FALSE(memory.slice(GuestAddress(UINT64_MAX), 2).ok());
    CHECK_FALSE(memory.slice(GuestAddress(0x100010), UINT64_MAX - 0x8).ok());
    CHECK_FALSE(GuestAddress(UINT64_MAX - 1).checked_add(2).has_value());
    CHECK(GuestAddress(UINT64_MAX - 1).checked_add(1).value() == GuestAddress(UINT64_MAX));
}

TEST_CASE("guest memory reads back what was written", "[memory]") {
    GuestMemory memory = two_regions();
    struct Record {
        uint32_t a;
        uint16_t b;
        uint8_t c[2];
    };
    Record in{0xdeadbeef, 0x1234, {7, 9}};
    REQUIRE(memory.write_object(GuestAddress(0x100100), in).ok());
    auto out = memory.read_object<Record>(GuestAddress(0x100100));
    REQUIRE(out.ok());
    CHECK(out->a == 0xdeadbeef);
    CHECK(out->b == 0x1234);
    CHECK(out->c[1] == 9);
    CHECK_FALSE(memory.write_object(GuestAddress(0xfffe), in).ok());
    CHECK_FALSE(memory.read_object<Record>(GuestAddress(0x101ffe)).ok());

    REQUIRE(memory.fill(GuestAddress(0x20), 16, std::byte{0xab}).ok());
    std::array<std::byte, 16> bytes{};
    REQUIRE(memory.read(GuestAddress(0x20), bytes).ok());
    for (auto byte : bytes) {
        CHECK(byte == std::byte{0xab});
    }
}
