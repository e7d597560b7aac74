#include "devices/pci/msix.h"
#include "test_pci_support.h"
#include "vmm/irq_routing.h"

#include <catch2/catch.hpp>

#include <random>

using namespace skiff;
using namespace skiff::pci;
using skiff::test::eventfd_count;
using skiff::test::FakeMsiRouting;

namespace {

void write32(Msix& msix, uint64_t offset, uint32_t value) {
    uint8_t bytes[4];
    for (size_t i = 0; i < 4; ++i) {
        bytes[i] = static_cast<uint8_t>(value >> (8 * i));
    }
    msix.table_write(offset, bytes);
}

uint32_t read32(const Msix& msix, uint64_t offset) {
    uint8_t bytes[4] = {};
    msix.table_read(offset, bytes);
    return uint32_t{bytes[0]} | uint32_t{bytes[1]} << 8 | uint32_t{bytes[2]} << 16 | uint32_t{bytes[3]} << 24;
}

uint64_t read_pba(const Msix& msix) {
    uint8_t bytes[8] = {};
    msix.pba_read(0, bytes);
    uint64_t value = 0;
    for (size_t i = 0; i < 8; ++i) {
        value |= uint64_t{bytes[i]} << (8 * i);
    }
    return value;
}

// Linux's msix_setup: address and data of entry `vector`, then unmask.
void program(Msix& msix, uint16_t vector, uint64_t address, uint32_t data, bool unmask = true) {
    uint64_t entry = vector * kMsixEntrySize;
    write32(msix, entry + 0, static_cast<uint32_t>(address));
    write32(msix, entry + 4, static_cast<uint32_t>(address >> 32));
    write32(msix, entry + 8, data);
    if (unmask) {
        write32(msix, entry + 12, 0);
    }
}

}  // namespace

TEST_CASE("MSI-X: vectors get eventfds registered as irqfds on GSIs of their own", "[pci][msix]") {
    auto routing = std::make_shared<FakeMsiRouting>();
    auto created = Msix::create(3, routing);
    REQUIRE(created.ok());
    Msix& msix = **created;
    CHECK(msix.vector_count() == 3);
    CHECK(msix.table_size() == 48);
    CHECK(msix.pba_size() == 8);
    std::set<uint32_t> gsis;
    for (uint16_t vector = 0; vector < 3; ++vector) {
        uint32_t gsi = msix.vector_gsi(vector);
        CHECK(gsi >= 24);
        gsis.insert(gsi);
        REQUIRE(routing->irqfds.contains(gsi));
        CHECK(routing->irqfds[gsi] == msix.vector_fd(vector));
        CHECK(msix.vector_fd(vector) >= 0);
    }
    CHECK(gsis.size() == 3);
    CHECK(msix.vector_fd(3) == -1);
    // Nothing routed until the guest enables and unmasks.
    CHECK(routing->committed.empty());
    // Every entry starts masked, address and data zero.
    for (uint64_t offset = 0; offset < msix.table_size(); offset += 4) {
        CHECK(read32(msix, offset) == (offset % 16 == 12 ? kMsixVectorMasked : 0));
    }

    created = Result<std::unique_ptr<Msix>>(Error{"dropped"});  // destroys the Msix
    CHECK(routing->irqfds.empty());
    CHECK(routing->allocated.empty());

    CHECK_FALSE(Msix::create(0, routing).ok());
    CHECK_FALSE(Msix::create(2049, routing).ok());
    routing->gsi_limit = 1;
    CHECK_FALSE(Msix::create(2, routing).ok());
    CHECK(routing->allocated.empty());  // the partial one was undone
    CHECK(routing->irqfds.empty());
}

TEST_CASE("MSI-X: capability bytes", "[pci][msix]") {
    auto routing = std::make_shared<FakeMsiRouting>();
    auto msix = Msix::create(17, routing);
    REQUIRE(msix.ok());
    auto bytes = (*msix)->capability(2, 0x4000, 3, 0x6008);
    CHECK(bytes[0] == capability_id::kMsix);
    CHECK((bytes[2] | bytes[3] << 8) == 16);  // table size N - 1
    CHECK((bytes[4] | bytes[5] << 8 | bytes[6] << 16 | bytes[7] << 24) == 0x4002);
    CHECK((bytes[8] | bytes[9] << 8 | bytes[10] << 16 | bytes[11] << 24) == 0x600b);
    auto mask = Msix::capability_write_mask();
    CHECK(mask[2] == 0);
    CHECK(mask[3] == 0xc0);
    CHECK((*msix)->message_control() == 16);
}

TEST_CASE("MSI-X: table entries become MSI routes while enabled and unmasked", "[pci][msix]") {
    auto routing = std::make_shared<FakeMsiRouting>();
    auto created = Msix::create(4, routing);
    REQUIRE(created.ok());
    Msix& msix = **created;
    uint32_t gsi1 = msix.vector_gsi(1);

    // Linux: enable with all masked, program, unmask the function.
    msix.set_message_control(msix_control::kEnable | msix_control::kFunctionMask);
    CHECK(msix.message_control() == (3 | msix_control::kEnable | msix_control::kFunctionMask));
    program(msix, 1, 0xfee01000, 0x4041);
    CHECK(routing->committed.empty());  // function still masked
    msix.set_message_control(msix_control::kEnable);
    REQUIRE(routing->committed.size() == 1);
    CHECK(routing->committed[gsi1] == FakeMsiRouting::Route{0xfee01000, 0x4041});

    // Changing an unmasked entry updates its route.
    write32(msix, 1 * 16 + 8, 0x4042);
    CHECK(routing->committed[gsi1] == FakeMsiRouting::Route{0xfee01000, 0x4042});
    write32(msix, 1 * 16 + 4, 0x1);
    CHECK(routing->committed[gsi1].address == 0x1fee01000ull);

    // Rewriting the same values commits nothing new.
    int commits = routing->commits;
    write32(msix, 1 * 16 + 8, 0x4042);
    CHECK(routing->commits == commits);

    // Masking the vector removes the route; disabling removes them all.
    write32(msix, 1 * 16 + 12, 1);
    CHECK(routing->committed.empty());
    write32(msix, 1 * 16 + 12, 0);
    program(msix, 2, 0xfee00000, 0x30);
    CHECK(routing->committed.size() == 2);
    msix.set_message_control(0);
    CHECK(routing->committed.empty());
    msix.set_message_control(msix_control::kEnable);
    CHECK(routing->committed.size() == 2);

    // The destructor takes the routes down.
    created = Result<std::unique_ptr<Msix>>(Error{"dropped"});
    CHECK(routing->committed.empty());
}

TEST_CASE("MSI-X: firing, masking, the PBA and delivery on unmask", "[pci][msix]") {
    auto routing = std::make_shared<FakeMsiRouting>();
    auto created = Msix::create(2, routing);
    REQUIRE(created.ok());
    Msix& msix = **created;
    int fd0 = msix.vector_fd(0);

    SECTION("disabled: dropped, nothing pending") {
        msix.fire(0);
        CHECK(eventfd_count(fd0) == 0);
        CHECK_FALSE(msix.pending(0));
        CHECK(read_pba(msix) == 0);
    }
    SECTION("unmasked: delivered through the eventfd") {
        msix.set_message_control(msix_control::kEnable);
        program(msix, 0, 0xfee00000, 0x41);
        msix.fire(0);
        msix.fire(0);
        CHECK(eventfd_count(fd0) == 2);
        CHECK(read_pba(msix) == 0);
    }
    SECTION("vector masked: pending, delivered once on unmask after the route is in") {
        msix.set_message_control(msix_control::kEnable);
        program(msix, 1, 0xfee00000, 0x42, /*unmask=*/false);
        program(msix, 0, 0xfee00000, 0x41, /*unmask=*/false);
        msix.fire(0);
        msix.fire(0);
        CHECK(eventfd_count(fd0) == 0);
        CHECK(msix.pending(0));
        CHECK(read_pba(msix) == 1);
        int commits = routing->commits;
        write32(msix, 12, 0);  // unmask vector 0
        CHECK(routing->commits == commits + 1);
        CHECK(routing->committed.contains(msix.vector_gsi(0)));
        CHECK(eventfd_count(fd0) == 1);
        CHECK(read_pba(msix) == 0);
        CHECK(eventfd_count(msix.vector_fd(1)) == 0);
    }
    SECTION("function masked: pending until the function mask clears") {
        msix.set_message_control(msix_control::kEnable | msix_control::kFunctionMask);
        program(msix, 1, 0xfee00000, 0x42);
        msix.fire(1);
        CHECK(read_pba(msix) == 2);
        CHECK(eventfd_count(msix.vector_fd(1)) == 0);
        msix.set_message_control(msix_control::kEnable);
        CHECK(eventfd_count(msix.vector_fd(1)) == 1);
        CHECK(read_pba(msix) == 0);
    }
    msix.fire(7);  // no such vector: ignored
}

TEST_CASE("MSI-X: byte accesses, reserved bits and out-of-range offsets", "[pci][msix]") {
    auto routing = std::make_shared<FakeMsiRouting>();
    auto created = Msix::create(2, routing);
    REQUIRE(created.ok());
    Msix& msix = **created;
    uint8_t byte = 0xab;
    msix.table_write(16 + 9, std::span<const uint8_t>(&byte, 1));
    CHECK(read32(msix, 16 + 8) == 0xab00);
    write32(msix, 12, 0xfffffffe);  // reserved control bits stay zero, vector unmasked
    CHECK(read32(msix, 12) == 0);
    write32(msix, 32, 0x12345678);  // past the table
    CHECK(read32(msix, 32) == 0);
    uint8_t wide[8];
    msix.table_read(UINT64_MAX - 3, wide);  // wraps: reads zero, no crash
    CHECK(wide[0] == 0);
    msix.pba_read(UINT64_MAX - 3, wide);
    msix.table_write(UINT64_MAX - 3, wide);

    std::mt19937_64 random(99);
    std::vector<uint8_t> buffer(24);
    for (int i = 0; i < 20000; ++i) {
        size_t size = 1 + random() % buffer.size();
        uint64_t offset = random() % 64;
        for (auto& value : buffer) {
            value = static_cast<uint8_t>(random());
        }
        switch (random() % 4) {
            case 0:
                msix.table_write(offset, std::span<const uint8_t>(buffer).first(size));
                break;
            case 1:
                msix.table_read(offset, std::span(buffer).first(size));
                break;
            case 2:
                msix.set_message_control(static_cast<uint16_t>(random()));
                break;
            default:
                msix.fire(static_cast<uint16_t>(random() % 3));
                break;
        }
    }
    // Whatever state it ended in, routes match the table.
    msix.set_message_control(msix_control::kEnable);
    for (uint16_t vector = 0; vector < 2; ++vector) {
        bool masked = (read32(msix, vector * 16u + 12) & 1) != 0;
        CHECK(routing->committed.contains(msix.vector_gsi(vector)) == !masked);
    }
}

TEST_CASE("KVM IRQ routing: the table keeps KVM's default irqchip routes and adds MSI routes", "[pci][msix]") {
    auto defaults = KvmIrqRouting::default_routes();
    REQUIRE(defaults.size() == 40);
    int ioapic = 0;
    int master = 0;
    int slave = 0;
    for (const auto& entry : defaults) {
        CHECK(entry.type == KVM_IRQ_ROUTING_IRQCHIP);
        CHECK(entry.flags == 0);
        if (entry.u.irqchip.irqchip == KVM_IRQCHIP_IOAPIC) {
            CHECK(entry.u.irqchip.pin == entry.gsi);
            ++ioapic;
        } else if (entry.u.irqchip.irqchip == KVM_IRQCHIP_PIC_MASTER) {
            CHECK(entry.gsi < 8);
            CHECK(entry.u.irqchip.pin == entry.gsi);
            ++master;
        } else {
            CHECK(entry.u.irqchip.irqchip == KVM_IRQCHIP_PIC_SLAVE);
            CHECK(entry.gsi >= 8);
            CHECK(entry.gsi < 16);
            CHECK(entry.u.irqchip.pin == entry.gsi - 8);
            ++slave;
        }
    }
    CHECK(ioapic == 24);
    CHECK(master == 8);
    CHECK(slave == 8);
}
