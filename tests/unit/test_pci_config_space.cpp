#include "devices/pci/pci_config_space.h"

#include <catch2/catch.hpp>

#include <random>
#include <vector>

using namespace skiff::pci;

namespace {

ConfigSpace make_space() {
    return ConfigSpace(Identity{.vendor_id = 0x1234,
                                .device_id = 0x5678,
                                .revision = 3,
                                .class_code = 0x020000,
                                .subsystem_vendor_id = 0xabcd,
                                .subsystem_id = 0xef01});
}

uint32_t guest_read(const ConfigSpace& space, uint64_t offset, size_t size) {
    uint8_t bytes[4] = {};
    space.read(offset, std::span(bytes, size));
    uint32_t value = 0;
    for (size_t i = 0; i < size; ++i) {
        value |= uint32_t{bytes[i]} << (8 * i);
    }
    return value;
}

void guest_write(ConfigSpace& space, uint64_t offset, size_t size, uint32_t value) {
    uint8_t bytes[4] = {};
    for (size_t i = 0; i < size; ++i) {
        bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    }
    space.write(offset, std::span<const uint8_t>(bytes, size));
}

}  // namespace

TEST_CASE("PCI config space: identity is read-only, command keeps only its writable bits", "[pci]") {
    ConfigSpace space = make_space();
    CHECK(guest_read(space, config::kVendorId, 4) == 0x56781234);
    CHECK(guest_read(space, config::kRevisionId, 4) == 0x02000003);
    CHECK(guest_read(space, config::kSubsystemVendorId, 4) == 0xef01abcd);
    CHECK(guest_read(space, config::kHeaderType, 1) == 0);

    guest_write(space, config::kVendorId, 4, 0xffffffff);
    guest_write(space, config::kClassCode, 2, 0);
    CHECK(guest_read(space, config::kVendorId, 4) == 0x56781234);
    CHECK(guest_read(space, config::kRevisionId, 4) == 0x02000003);

    guest_write(space, config::kCommand, 4, 0xffffffff);  // status too: read-only here
    CHECK(guest_read(space, config::kCommand, 2) ==
          (command::kMemorySpace | command::kBusMaster | command::kInterruptDisable));
    CHECK(guest_read(space, config::kStatus, 2) == 0);
    guest_write(space, config::kCommand + 1, 1, 0);
    CHECK(guest_read(space, config::kCommand, 2) == (command::kMemorySpace | command::kBusMaster));
    CHECK(space.command() == (command::kMemorySpace | command::kBusMaster));

    guest_write(space, config::kInterruptLine, 2, 0xffff);
    CHECK(guest_read(space, config::kInterruptLine, 1) == 0xff);
    CHECK(guest_read(space, config::kInterruptPin, 1) == 0);
}

TEST_CASE("PCI config space: 32-bit BAR sizing and programming", "[pci]") {
    ConfigSpace space = make_space();
    REQUIRE(space.add_bar(1, 0x1000, BarWidth::Bits32, /*prefetchable=*/true).ok());
    uint16_t bar1 = config::kBar0 + 4;
    CHECK(guest_read(space, bar1, 4) == bar_flags::kPrefetchable);

    guest_write(space, bar1, 4, 0xffffffff);
    CHECK(guest_read(space, bar1, 4) == (0xfffff000 | bar_flags::kPrefetchable));
    guest_write(space, bar1, 4, 0xc0003456);  // low bits below the size are dropped
    CHECK(guest_read(space, bar1, 4) == (0xc0003000 | bar_flags::kPrefetchable));
    auto bar = space.bar(1);
    REQUIRE(bar);
    CHECK(bar->address == 0xc0003000);
    CHECK(bar->size == 0x1000);
    CHECK(bar->prefetchable);
    // A byte write changes only its byte.
    guest_write(space, bar1 + 3, 1, 0xd0);
    CHECK(space.bar(1)->address == 0xd0003000);

    // Unimplemented BARs and the expansion ROM read zero whatever is written.
    for (uint16_t offset : {uint16_t{0x10}, uint16_t{0x18}, uint16_t{0x24}, uint16_t{0x30}}) {
        guest_write(space, offset, 4, 0xffffffff);
        CHECK(guest_read(space, offset, 4) == 0);
    }
    CHECK_FALSE(space.bar(0));
}

TEST_CASE("PCI config space: 64-bit BAR sizing, small and above 4 GiB", "[pci]") {
    ConfigSpace space = make_space();
    REQUIRE(space.add_bar(0, 0x4000, BarWidth::Bits64, false).ok());
    REQUIRE(space.add_bar(2, uint64_t{8} << 30, BarWidth::Bits64, true).ok());

    guest_write(space, 0x10, 4, 0xffffffff);
    guest_write(space, 0x14, 4, 0xffffffff);
    uint64_t mask = (guest_read(space, 0x10, 4) & ~0xfull) | (uint64_t{guest_read(space, 0x14, 4)} << 32);
    CHECK((guest_read(space, 0x10, 4) & 0xf) == bar_flags::kMemory64);
    CHECK(~mask + 1 == 0x4000);

    guest_write(space, 0x18, 4, 0xffffffff);
    guest_write(space, 0x1c, 4, 0xffffffff);
    CHECK(guest_read(space, 0x18, 4) == (bar_flags::kMemory64 | bar_flags::kPrefetchable));
    CHECK(guest_read(space, 0x1c, 4) == 0xfffffffe);

    guest_write(space, 0x10, 4, 0xe0004000);
    guest_write(space, 0x14, 4, 0x12);
    CHECK(space.bar(0)->address == 0x12e0004000ull);
    space.set_bar_address(2, 0x400000000ull);
    CHECK(space.bar(2)->address == 0x400000000ull);
    CHECK(guest_read(space, 0x1c, 4) == 4);
    // The upper halves are not BARs of their own.
    CHECK_FALSE(space.bar(1));
    CHECK_FALSE(space.bar(3));
}

TEST_CASE("PCI config space: invalid BAR declarations are refused", "[pci]") {
    ConfigSpace space = make_space();
    CHECK_FALSE(space.add_bar(0, 0x1800, BarWidth::Bits32, false).ok());
    CHECK_FALSE(space.add_bar(0, 8, BarWidth::Bits32, false).ok());
    CHECK_FALSE(space.add_bar(0, uint64_t{4} << 30, BarWidth::Bits32, false).ok());
    CHECK_FALSE(space.add_bar(5, 0x1000, BarWidth::Bits64, false).ok());
    CHECK_FALSE(space.add_bar(6, 0x1000, BarWidth::Bits32, false).ok());
    REQUIRE(space.add_bar(2, 0x1000, BarWidth::Bits64, false).ok());
    CHECK_FALSE(space.add_bar(2, 0x1000, BarWidth::Bits32, false).ok());
    CHECK_FALSE(space.add_bar(3, 0x1000, BarWidth::Bits32, false).ok());
    CHECK_FALSE(space.add_bar(1, 0x1000, BarWidth::Bits64, false).ok());
    CHECK(space.add_bar(1, 0x1000, BarWidth::Bits32, false).ok());
    CHECK(space.add_bar(4, 0x1000, BarWidth::Bits64, false).ok());
}

TEST_CASE("PCI config space: capability list is linked and masked", "[pci]") {
    ConfigSpace space = make_space();
    CHECK((guest_read(space, config::kStatus, 2) & status::kCapabilitiesList) == 0);
    std::vector<uint8_t> first = {0x09, 0xaa, 5, 1, 2};  // the next pointer given is overwritten
    std::vector<uint8_t> second = {0x11, 0, 0x22, 0x33, 0x44, 0x55};
    std::vector<uint8_t> second_mask = {0, 0, 0, 0xc0, 0, 0};
    auto first_offset = space.add_capability(first);
    auto second_offset = space.add_capability(second, second_mask);
    REQUIRE(first_offset.ok());
    REQUIRE(second_offset.ok());
    CHECK(*first_offset == 0x40);
    CHECK(*second_offset == 0x48);  // dword aligned after 5 bytes
    CHECK((guest_read(space, config::kStatus, 2) & status::kCapabilitiesList) != 0);
    CHECK(guest_read(space, config::kCapabilitiesPointer, 1) == 0x40);
    CHECK(guest_read(space, 0x41, 1) == 0x48);
    CHECK(guest_read(space, 0x49, 1) == 0);
    CHECK(guest_read(space, 0x42, 2) == 0x0105);

    guest_write(space, 0x48, 4, 0xffffffff);
    CHECK(guest_read(space, 0x48, 4) == 0xf3220011);
    guest_write(space, 0x4b, 1, 0);
    CHECK(guest_read(space, 0x4b, 1) == 0x33);
    guest_write(space, 0x41, 1, 0x80);  // the chain is read-only
    CHECK(guest_read(space, 0x41, 1) == 0x48);

    CHECK_FALSE(space.add_capability(std::vector<uint8_t>{0x09}).ok());
    CHECK_FALSE(space.add_capability(second, first).ok());
    // Fill the space: the capability that no longer fits is refused.
    std::vector<uint8_t> big(64, 0);
    big[0] = 0x09;
    int added = 0;
    while (space.add_capability(big).ok()) {
        ++added;
    }
    CHECK(added == 2);  // 0x50 and 0x90; 0xd0 + 64 > 256
}

TEST_CASE("PCI config space: any offset and size, hostile values", "[pci]") {
    ConfigSpace space = make_space();
    REQUIRE(space.add_bar(0, 0x1000, BarWidth::Bits64, false).ok());
    std::mt19937_64 random(12345);
    std::vector<uint8_t> buffer(300);
    for (int i = 0; i < 100000; ++i) {
        uint64_t offset = random() % 320;
        if (i % 1000 == 0) {
            offset = UINT64_MAX - random() % 8;  // wraps around
        }
        size_t size = 1 + random() % buffer.size();
        for (auto& byte : std::span(buffer).first(size)) {
            byte = static_cast<uint8_t>(random());
        }
        if (random() % 2 != 0) {
            space.write(offset, std::span<const uint8_t>(buffer).first(size));
        } else {
            space.read(offset, std::span(buffer).first(size));
        }
    }
    CHECK(guest_read(space, config::kVendorId, 4) == 0x56781234);
    CHECK(guest_read(space, config::kHeaderType, 1) == 0);
    uint8_t beyond[4] = {1, 2, 3, 4};
    space.read(254, beyond);
    CHECK(beyond[2] == 0);
    CHECK(beyond[3] == 0);
    CHECK(space.bar(0)->size == 0x1000);
}
