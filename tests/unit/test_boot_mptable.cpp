#include "boot/image_bytes.h"
#include "boot/layout.h"
#include "boot/mptable.h"
#include "test_boot_images.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace skiff;
using namespace skiff::boot;
using namespace skiff::boot::testing;

namespace {

struct ParsedMpTable {
    std::vector<mp::ProcessorEntry> processors;
    std::vector<mp::BusEntry> buses;
    std::vector<mp::IoApicEntry> ioapics;
    std::vector<mp::InterruptEntry> io_interrupts;
    std::vector<mp::InterruptEntry> local_interrupts;
    mp::ConfigurationHeader header{};
};

// Finds the floating pointer the way Linux and the MP spec do: 16-byte
// steps through the last KiB of base memory, then checks both checksums and
// walks the entries by their type's length.
ParsedMpTable parse(const GuestMemory& memory) {
    std::optional<GuestAddress> found;
    for (uint64_t offset = 0; offset < layout::kEbdaSize; offset += 16) {
        auto candidate = memory.read_object<mp::FloatingPointer>(layout::kEbda + offset);
        REQUIRE(candidate.ok());
        if (std::memcmp(candidate->signature, "_MP_", 4) == 0) {
            found = layout::kEbda + offset;
            break;
        }
    }
    REQUIRE(found);
    Image pointer_bytes(16);
    REQUIRE(memory.read(*found, pointer_bytes).ok());
    CHECK(byte_sum(pointer_bytes) == 0);
    auto pointer = memory.read_object<mp::FloatingPointer>(*found);
    CHECK(pointer->length == 1);
    CHECK(pointer->revision == 4);
    CHECK(pointer->features[0] == 0);

    ParsedMpTable table;
    const GuestAddress table_address(pointer->configuration_table);
    table.header = *memory.read_object<mp::ConfigurationHeader>(table_address);
    CHECK(std::memcmp(table.header.signature, "PCMP", 4) == 0);
    CHECK(table.header.revision == 4);
    CHECK(table.header.local_apic_address == layout::kLocalApic.value());
    Image bytes(table.header.base_table_length);
    REQUIRE(memory.read(table_address, bytes).ok());
    CHECK(byte_sum(bytes) == 0);
    // The whole table stays in the EBDA.
    CHECK(table_address.value() + bytes.size() <= layout::kEbda.value() + layout::kEbdaSize);

    uint64_t offset = sizeof(mp::ConfigurationHeader);
    size_t entries = 0;
    while (offset < bytes.size()) {
        const auto type = static_cast<uint8_t>(bytes[offset]);
        switch (type) {
            case mp::Processor: table.processors.push_back(get<mp::ProcessorEntry>(bytes, offset)); offset += 20; break;
            case mp::Bus: table.buses.push_back(get<mp::BusEntry>(bytes, offset)); offset += 8; break;
            case mp::IoApic: table.ioapics.push_back(get<mp::IoApicEntry>(bytes, offset)); offset += 8; break;
            case mp::IoInterrupt: table.io_interrupts.push_back(get<mp::InterruptEntry>(bytes, offset)); offset += 8; break;
            case mp::LocalInterrupt:
                table.local_interrupts.push_back(get<mp::InterruptEntry>(bytes, offset));
                offset += 8;
                break;
            default: FAIL("unknown MP entry type " << int(type));
        }
        ++entries;
    }
    CHECK(offset == bytes.size());
    CHECK(entries == table.header.entry_count);
    return table;
}

}  // namespace

TEST_CASE("the MP table describes every vCPU, the IOAPIC and the interrupts", "[boot]") {
    const uint32_t cpu_count = GENERATE(1u, 2u, 8u, 37u);
    GuestMemory memory = make_memory(4 * 1024 * 1024);
    REQUIRE(write_mp_table(memory, cpu_count).ok());
    ParsedMpTable table = parse(memory);

    REQUIRE(table.processors.size() == cpu_count);
    for (uint32_t index = 0; index < cpu_count; ++index) {
        const auto& processor = table.processors[index];
        CHECK(processor.local_apic_id == index);
        CHECK((processor.flags & mp::kProcessorEnabled) != 0);
        CHECK(((processor.flags & mp::kProcessorBootstrap) != 0) == (index == 0));
    }
    REQUIRE(table.buses.size() == 1);
    CHECK(std::memcmp(table.buses[0].bus_type, "ISA   ", 6) == 0);
    REQUIRE(table.ioapics.size() == 1);
    CHECK(table.ioapics[0].id == cpu_count);
    CHECK(table.ioapics[0].address == layout::kIoapic.value());
    CHECK(table.ioapics[0].flags == 1);

    REQUIRE(table.io_interrupts.size() == 24);
    for (uint32_t pin = 0; pin < 24; ++pin) {
        const auto& interrupt = table.io_interrupts[pin];
        CHECK(interrupt.source_bus == table.buses[0].bus_id);
        CHECK(interrupt.source_irq == pin);
        CHECK(interrupt.destination_id == cpu_count);
        CHECK(interrupt.destination_pin == pin);
        CHECK(interrupt.interrupt_type == mp::Int);
    }
    REQUIRE(table.local_interrupts.size() == 2);
    CHECK(table.local_interrupts[0].interrupt_type == mp::ExtInt);
    CHECK(table.local_interrupts[0].destination_pin == 0);
    CHECK(table.local_interrupts[1].interrupt_type == mp::Nmi);
    CHECK(table.local_interrupts[1].destination_pin == 1);
    CHECK(table.local_interrupts[1].destination_id == 0xff);
}

TEST_CASE("write_mp_table rejects counts it cannot describe", "[boot]") {
    GuestMemory memory = make_memory(4 * 1024 * 1024);
    CHECK(mp_table_max_cpus() == 37);
    CHECK(mp_table_size(37) <= layout::kEbdaSize);
    CHECK(mp_table_size(38) > layout::kEbdaSize);
    for (uint32_t count : {0u, 38u, 64u, 254u, 255u, 1000u}) {
        auto result = write_mp_table(memory, count);
        INFO(count);
        REQUIRE_FALSE(result.ok());
        CHECK(one_line(result.error().message));
    }
    CHECK_THAT(write_mp_table(memory, 64).error().message, Catch::Contains("at most 37"));
    // Nothing was written by the refused calls.
    CHECK(*memory.read_object<uint32_t>(layout::kEbda) == 0);
}

TEST_CASE("write_mp_table needs the EBDA in guest memory", "[boot]") {
    auto memory = GuestMemory::create({{GuestAddress(0x100000), 0x100000}});
    REQUIRE(memory.ok());
    CHECK_FALSE(write_mp_table(*memory, 1).ok());
}
