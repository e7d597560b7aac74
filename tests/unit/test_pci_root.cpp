#include "devices/pci/pci_root.h"
#include "test_pci_support.h"

#include <catch2/catch.hpp>

#include <atomic>
#include <random>
#include <thread>
#include <vector>

using namespace skiff;
using namespace skiff::pci;
using skiff::test::PciMachine;

namespace {

// A device with a 32-bit 4 KiB BAR 0 and a 64-bit 64 KiB BAR 2 whose bytes
// read as the low byte of (BAR index * 0x40 + offset).
class TestDevice final : public PciDevice {
public:
    explicit TestDevice(uint64_t big_bar_size = 0x10000)
        : config_(Identity{.vendor_id = 0x1b36, .device_id = 0x0005, .revision = 0, .class_code = 0xff0000}) {
        REQUIRE(config_.add_bar(0, 0x1000, BarWidth::Bits32, false).ok());
        REQUIRE(config_.add_bar(2, big_bar_size, BarWidth::Bits64, true).ok());
    }
    void config_read(uint16_t offset, std::span<uint8_t> data) override {
        std::lock_guard lock(mutex);
        REQUIRE(offset + data.size() <= 256);
        REQUIRE(offset / 4 == (offset + data.size() - 1) / 4);
        config_.read(offset, data);
    }
    void config_write(uint16_t offset, std::span<const uint8_t> data) override {
        std::lock_guard lock(mutex);
        REQUIRE(offset + data.size() <= 256);
        REQUIRE(offset / 4 == (offset + data.size() - 1) / 4);
        config_.write(offset, data);
    }
    std::vector<Bar> bars() const override {
        std::lock_guard lock(mutex);
        return {*config_.bar(0), *config_.bar(2)};
    }
    void assign_bar(uint8_t bar, uint64_t address) override {
        std::lock_guard lock(mutex);
        config_.set_bar_address(bar, address);
    }
    void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) override {
        for (size_t i = 0; i < data.size(); ++i) {
            data[i] = static_cast<uint8_t>(bar * 0x40 + offset + i);
        }
    }
    void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) override {
        std::lock_guard lock(mutex);
        writes.push_back({bar, offset, data.size()});
    }
    void bar_moved(uint8_t bar, std::optional<uint64_t> old_address, std::optional<uint64_t> new_address) override {
        std::lock_guard lock(mutex);
        moves.push_back({bar, old_address, new_address});
    }
    std::string_view name() const override { return "test device"; }

    struct Write {
        uint8_t bar;
        uint64_t offset;
        size_t size;
    };
    struct Move {
        uint8_t bar;
        std::optional<uint64_t> from;
        std::optional<uint64_t> to;
    };
    mutable std::mutex mutex;
    std::vector<Write> writes;
    std::vector<Move> moves;

private:
    ConfigSpace config_;
};

}  // namespace

TEST_CASE("PCI conf1: host bridge at 00:00.0 passes Linux's type-1 probe", "[pci]") {
    PciMachine machine;
    // pci_check_type1: a byte to 0xcfb must not disturb the dword address
    // register, which reads back what was written.
    machine.port_out(0xcfb, 1, 0x01);
    uint32_t saved = static_cast<uint32_t>(machine.port_in(0xcf8, 4));
    machine.port_out(0xcf8, 4, 0x80000000);
    CHECK(machine.port_in(0xcf8, 4) == 0x80000000);
    machine.port_out(0xcf8, 4, saved);
    CHECK(machine.port_in(0xcf8, 4) == saved);
    CHECK(machine.port_in(0xcf9, 1) == 0xff);
    CHECK(machine.port_in(0xcf8, 2) == 0xffff);

    // pci_sanity_check: class word 0x0600 or an Intel vendor on bus 0.
    CHECK(machine.config_read(0, 0x0a, 2) == 0x0600);
    CHECK(machine.config_read(0, 0x00, 2) == kHostBridgeVendorId);
    CHECK(machine.config_read(0, 0x00, 4) == (uint32_t{kHostBridgeDeviceId} << 16 | kHostBridgeVendorId));
    CHECK(machine.config_read(0, 0x0e, 1) == 0);  // single function
    // Reserved address bits read back as zero.
    machine.port_out(0xcf8, 4, 0xff000003);
    CHECK(machine.port_in(0xcf8, 4) == 0x80000000);
}

TEST_CASE("PCI conf1: byte, word and dword data accesses at every data port", "[pci]") {
    PciMachine machine;
    uint32_t id = machine.config_read(0, 0, 4);
    for (uint16_t byte = 0; byte < 4; ++byte) {
        CHECK(machine.config_read(0, byte, 1) == ((id >> (8 * byte)) & 0xff));
    }
    CHECK(machine.config_read(0, 2, 2) == id >> 16);
    // A word at 0xcff runs past the data window: the I/O bus does not pass
    // it on; the device itself, given one, answers config byte 3 and all
    // ones for the rest.
    machine.port_out(0xcf8, 4, test::conf1_address(0, 0, 0, 0));
    CHECK(machine.port_in(0xcff, 1) == id >> 24);
    CHECK(machine.port_in(0xcff, 2) == 0xffff);
    PciConfigIo direct(machine.root);
    uint8_t address[4] = {0x00, 0x00, 0x00, 0x80};
    direct.write(0, address);
    uint8_t word[2] = {};
    direct.read(7, word);
    CHECK(word[0] == (id >> 24));
    CHECK(word[1] == 0xff);

    // Writes of each width reach the register: the latency timer (0x0d) and
    // interrupt line (0x3c) are writable on the host bridge.
    machine.config_write(0, 0x0d, 1, 0x40);
    CHECK(machine.config_read(0, 0x0c, 4) == 0x00004000);
    machine.config_write(0, 0x0c, 2, 0x2010);
    CHECK(machine.config_read(0, 0x0c, 4) == 0x00002010);
    machine.config_write(0, 0x3c, 4, 0xffffffff);
    CHECK(machine.config_read(0, 0x3c, 4) == 0x000000ff);
}

TEST_CASE("PCI conf1: absent devices, functions, buses and a disabled address read all ones", "[pci]") {
    PciMachine machine;
    for (size_t size : {1, 2, 4}) {
        uint32_t ones = size == 4 ? 0xffffffff : (1u << (8 * size)) - 1;
        CHECK(machine.config_read(5, 0, size) == ones);
        CHECK(machine.config_read(31, 0, size) == ones);
        CHECK(machine.config_read(0, 0, size, /*function=*/1) == ones);
        CHECK(machine.config_read(0, 0, size, 0, /*bus=*/1) == ones);
    }
    machine.port_out(0xcf8, 4, 0x00000000);  // enable bit clear
    CHECK(machine.port_in(0xcfc, 4) == 0xffffffff);
    machine.port_out(0xcfc, 4, 0);
    CHECK(machine.config_read(0, 0, 2) == kHostBridgeVendorId);
    // Writes to absent devices go nowhere and do not crash.
    machine.config_write(7, 0x04, 2, 0xffff);
    machine.config_write(0, 0x04, 2, 0xffff, /*function=*/3);
}

TEST_CASE("PCI root: devices get slots and naturally aligned BARs in the window", "[pci]") {
    PciMachine machine;
    auto first = std::make_shared<TestDevice>();
    auto second = std::make_shared<TestDevice>(0x100000);
    auto first_slot = machine.root->add_device(first);
    auto second_slot = machine.root->add_device(second);
    REQUIRE(first_slot.ok());
    REQUIRE(second_slot.ok());
    CHECK(*first_slot == 1);
    CHECK(*second_slot == 2);
    CHECK(machine.config_read(1, 0, 4) == 0x00051b36);
    CHECK(machine.root->device(2) == second);

    std::vector<std::pair<uint64_t, uint64_t>> ranges;
    for (uint8_t slot : {1, 2}) {
        for (uint8_t bar : {0, 2}) {
            auto [address, size] = machine.size_bar(slot, bar);
            CHECK(address % size == 0);
            CHECK(address >= machine.root->window().start);
            CHECK(address + size <= machine.root->window().start + machine.root->window().size);
            ranges.emplace_back(address, size);
        }
    }
    CHECK(ranges[1].second == 0x10000);
    CHECK(ranges[3].second == 0x100000);
    for (size_t i = 0; i < ranges.size(); ++i) {
        for (size_t j = i + 1; j < ranges.size(); ++j) {
            bool disjoint = ranges[i].first + ranges[i].second <= ranges[j].first ||
                            ranges[j].first + ranges[j].second <= ranges[i].first;
            CHECK(disjoint);
        }
    }
}

TEST_CASE("PCI root: MMIO reaches a BAR only with memory decoding on, and follows BAR moves", "[pci]") {
    PciMachine machine;
    auto device = std::make_shared<TestDevice>();
    REQUIRE(machine.root->add_device(device).ok());
    auto [bar0, bar0_size] = machine.size_bar(1, 0);
    auto [bar2, bar2_size] = machine.size_bar(1, 2);
    CHECK(device->moves.empty());  // sizing with decoding off moves nothing

    // Decoding off: nothing answers.
    CHECK(machine.mmio_read(bar0 + 4, 4) == 0xffffffff);
    machine.mmio_write(bar0, 4, 1);
    CHECK(device->writes.empty());

    machine.config_write(1, 0x04, 2, command::kMemorySpace);
    REQUIRE(device->moves.size() == 2);
    CHECK(device->moves[0].bar == 0);
    CHECK_FALSE(device->moves[0].from);
    CHECK(device->moves[0].to == bar0);
    CHECK(device->moves[1].to == bar2);
    CHECK(machine.mmio_read(bar0 + 4, 4) == 0x07060504);
    CHECK(machine.mmio_read(bar2 + 0x10, 2) == 0x9190);
    machine.mmio_write(bar2 + 0x20, 8, 0);
    REQUIRE(device->writes.size() == 1);
    CHECK(device->writes[0].bar == 2);
    CHECK(device->writes[0].offset == 0x20);
    CHECK(device->writes[0].size == 8);
    // An access running past the BAR's end reaches nobody.
    CHECK(machine.mmio_read(bar0 + bar0_size - 2, 4) == 0xffffffff);

    // The guest moves BAR 0 (decoding stays on, as a hostile or careless
    // guest may do); the old address goes dead, the new one answers.
    uint64_t moved = 0xc8000000;
    machine.config_write(1, 0x10, 4, static_cast<uint32_t>(moved));
    CHECK(device->moves.back().bar == 0);
    CHECK(device->moves.back().from == bar0);
    CHECK(device->moves.back().to == moved);
    CHECK(machine.mmio_read(moved, 1) == 0x00);
    CHECK(machine.mmio_read(bar0, 1) == 0xff);

    // A 64-bit BAR moved in two halves; outside the window it is not decoded.
    machine.config_write(1, 0x1c, 4, 0x1);
    CHECK_FALSE(device->moves.back().to);
    CHECK(machine.mmio_read(bar2, 1) == 0xff);
    machine.config_write(1, 0x18, 4, 0xc9000000);
    machine.config_write(1, 0x1c, 4, 0x0);
    CHECK(device->moves.back().to == 0xc9000000);
    CHECK(machine.mmio_read(0xc9000001, 1) == 0x81);

    // Decoding off again: every BAR goes away.
    machine.config_write(1, 0x04, 2, 0);
    CHECK(machine.mmio_read(moved, 1) == 0xff);
    CHECK(machine.mmio_read(0xc9000000, 1) == 0xff);
    CHECK_FALSE(device->moves.back().to);
    (void)bar2_size;
}

TEST_CASE("PCI root: bus and window exhaustion are errors", "[pci]") {
    SECTION("31 slots") {
        PciRoot root;
        for (int i = 0; i < 31; ++i) {
            REQUIRE(root.add_device(std::make_shared<TestDevice>(0x1000)).ok());
        }
        auto full = root.add_device(std::make_shared<TestDevice>(0x1000));
        REQUIRE_FALSE(full.ok());
        CHECK(full.error().message.find("full") != std::string::npos);
    }
    SECTION("window") {
        PciRoot root(MmioWindow{.start = 0xc0000000, .size = 0x100000});
        REQUIRE(root.add_device(std::make_shared<TestDevice>(0x40000)).ok());
        REQUIRE_FALSE(root.add_device(std::make_shared<TestDevice>(0x100000)).ok());
        // A failed add leaves the slot free and the window unchanged.
        auto slot = root.add_device(std::make_shared<TestDevice>(0x40000));
        REQUIRE(slot.ok());
        CHECK(*slot == 2);
    }
}

TEST_CASE("PCI root: MMIO on several threads while BARs move", "[pci]") {
    PciMachine machine;
    auto device = std::make_shared<TestDevice>();
    REQUIRE(machine.root->add_device(device).ok());
    machine.config_write(1, 0x04, 2, command::kMemorySpace);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> answered{0};
    std::atomic<uint64_t> wrong{0};  // Catch assertions are not thread-safe
    std::vector<std::thread> readers;
    for (int i = 0; i < 2; ++i) {
        readers.emplace_back([&] {
            while (!stop) {
                for (uint64_t address : {0xc1000000ull, 0xc2000000ull}) {
                    uint8_t byte = 0;
                    if (machine.root->mmio_read(address + 3, std::span(&byte, 1))) {
                        // Whoever answers is BAR 0 at offset 3.
                        ++(byte == 3 ? answered : wrong);
                    }
                }
            }
        });
    }
    // Move until the readers have seen plenty of answers (they may start
    // late on a busy machine), with a bound.
    for (int i = 0; i < 2000000 && (i < 2000 || answered < 2000); ++i) {
        machine.config_write(1, 0x10, 4, i % 2 == 0 ? 0xc1000000 : 0xc2000000);
    }
    stop = true;
    for (auto& thread : readers) {
        thread.join();
    }
    CHECK(answered > 0);
    CHECK(wrong == 0);
}

TEST_CASE("PCI root: random conf1 and MMIO traffic does not crash", "[pci]") {
    PciMachine machine;
    auto device = std::make_shared<TestDevice>();
    REQUIRE(machine.root->add_device(device).ok());
    std::mt19937_64 random(777);
    const size_t sizes[] = {1, 2, 4};
    for (int i = 0; i < 100000; ++i) {
        uint64_t value = random();
        switch (random() % 4) {
            case 0: {
                // Mostly aim at real devices so writes land somewhere.
                uint32_t address = static_cast<uint32_t>(value);
                if (random() % 4 != 0) {
                    address = test::conf1_address(0, static_cast<uint8_t>(random() % 3), 0,
                                                  static_cast<uint16_t>(random() % 256));
                }
                machine.port_out(0xcf8, 4, address);
                break;
            }
            case 1:
                machine.port_out(static_cast<uint16_t>(0xcf8 + random() % 8), sizes[random() % 3], value);
                break;
            case 2:
                (void)machine.port_in(static_cast<uint16_t>(0xcf8 + random() % 8), sizes[random() % 3]);
                break;
            default: {
                uint64_t address = machine.root->window().start + random() % 0x100000;
                size_t size = size_t{1} << (random() % 4);
                if (random() % 2 != 0) {
                    machine.mmio_write(address, size, value);
                } else {
                    (void)machine.mmio_read(address, size);
                }
                break;
            }
        }
    }
    CHECK(machine.config_read(0, 0, 2) == kHostBridgeVendorId);
    CHECK(machine.config_read(1, 0, 2) == 0x1b36);
}
