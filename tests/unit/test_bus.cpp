#include "vmm/bus.h"

#include <catch2/catch.hpp>

#include <vector>

namespace {

struct RecordingDevice final : skiff::BusDevice {
    std::vector<std::pair<uint64_t, std::vector<uint8_t>>> writes;
    uint8_t fill = 0x42;
    void read(uint64_t offset, std::span<uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i) {
            data[i] = static_cast<uint8_t>(fill + offset + i);
        }
    }
    void write(uint64_t offset, std::span<const uint8_t> data) override {
        writes.emplace_back(offset, std::vector<uint8_t>(data.begin(), data.end()));
    }
};

}  // namespace

TEST_CASE("bus refuses overlapping and invalid ranges", "[bus]") {
    skiff::Bus bus("test");
    auto device = std::make_shared<RecordingDevice>();
    REQUIRE(bus.insert(device, 0x100, 0x10).ok());
    CHECK_FALSE(bus.insert(device, 0x10f, 1).ok());
    CHECK_FALSE(bus.insert(device, 0xf0, 0x11).ok());
    CHECK_FALSE(bus.insert(device, 0xf0, 0x100).ok());
    CHECK_FALSE(bus.insert(device, 0x200, 0).ok());
    CHECK_FALSE(bus.insert(device, UINT64_MAX - 1, 4).ok());
    CHECK(bus.insert(device, 0x110, 1).ok());
    CHECK(bus.insert(device, 0xf0, 0x10).ok());
}

TEST_CASE("bus dispatches with offsets and rejects straddling accesses", "[bus]") {
    skiff::Bus bus("test");
    auto first = std::make_shared<RecordingDevice>();
    auto second = std::make_shared<RecordingDevice>();
    second->fill = 0x80;
    REQUIRE(bus.insert(first, 0x3f8, 8).ok());
    REQUIRE(bus.insert(second, 0x1000, 0x100).ok());

    uint8_t byte = 0;
    CHECK(bus.read(0x3fa, std::span<uint8_t>(&byte, 1)));
    CHECK(byte == 0x44);
    uint32_t word = 0;
    CHECK(bus.read(0x1004, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&word), 4)));
    CHECK(word == 0x87868584);

    const uint8_t payload[2] = {1, 2};
    CHECK(bus.write(0x3fe, payload));
    REQUIRE(first->writes.size() == 1);
    CHECK(first->writes[0].first == 6);

    // An access running past the end of a range reaches no device.
    CHECK_FALSE(bus.write(0x3ff, payload));
    CHECK_FALSE(bus.read(0x3ff, std::span<uint8_t>(reinterpret_cast<uint8_t*>(&word), 4)));
    CHECK(word == 0xffffffff);
    CHECK_FALSE(bus.read(0x2000, std::span<uint8_t>(&byte, 1)));
    CHECK(byte == 0xff);
    CHECK(first->writes.size() == 1);
}
