// MP spec 1.4 tables; see mptable.h.
#include "boot/mptable.h"

#include "boot/image_bytes.h"
#include "boot/layout.h"

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

namespace skiff::boot {

namespace {

constexpr uint8_t kSpecRevision = 4;  // MP spec 1.4
// KVM's in-kernel local APIC and IOAPIC report these versions.
constexpr uint8_t kLocalApicVersion = 0x14;
constexpr uint8_t kIoApicVersion = 0x11;
constexpr uint8_t kIsaBusId = 0;
constexpr uint8_t kAllLocalApics = 0xff;
// CPUID-style signature (family 6) and features (FPU, APIC) for processor
// entries; Linux reads them only for display.
constexpr uint32_t kCpuSignature = 0x600;
constexpr uint32_t kCpuFeatures = 0x201;
constexpr uint64_t kFixedEntriesSize = sizeof(mp::BusEntry) + sizeof(mp::IoApicEntry) +
                                       layout::kIoapicPins * sizeof(mp::InterruptEntry) +
                                       2 * sizeof(mp::InterruptEntry);

// Fills a fixed-width text field; the literal must be exactly as wide.
template <size_t N>
void copy_text(char (&field)[N], const char (&text)[N + 1]) {
    std::memcpy(field, text, N);
}

}  // namespace

uint64_t mp_table_size(uint32_t cpu_count) {
    return sizeof(mp::FloatingPointer) + sizeof(mp::ConfigurationHeader) +
           uint64_t{cpu_count} * sizeof(mp::ProcessorEntry) + kFixedEntriesSize;
}

uint32_t mp_table_max_cpus() {
    const uint64_t fixed = mp_table_size(0);
    if (fixed > layout::kEbdaSize) {
        return 0;
    }
    return static_cast<uint32_t>(std::min<uint64_t>((layout::kEbdaSize - fixed) / sizeof(mp::ProcessorEntry),
                                                    mp::kMaxCpuCount));
}

Result<void> write_mp_table(const GuestMemory& memory, uint32_t cpu_count) {
    if (cpu_count == 0 || cpu_count > mp::kMaxCpuCount) {
        return Error::format("MP table: {} vCPUs (must be 1 to {})", cpu_count, mp::kMaxCpuCount);
    }
    if (mp_table_size(cpu_count) > layout::kEbdaSize) {
        return Error::format("MP table for {} vCPUs needs {} bytes; the EBDA holds {} (at most {} vCPUs)", cpu_count,
                             mp_table_size(cpu_count), layout::kEbdaSize, mp_table_max_cpus());
    }
    const uint8_t ioapic_id = static_cast<uint8_t>(cpu_count);
    std::vector<std::byte> entries;
    uint16_t entry_count = 0;
    auto add = [&entries, &entry_count](const auto& entry) {
        append_object(entries, entry);
        ++entry_count;
    };
    for (uint32_t index = 0; index < cpu_count; ++index) {
        mp::ProcessorEntry processor{};
        processor.type = mp::Processor;
        processor.local_apic_id = static_cast<uint8_t>(index);
        processor.local_apic_version = kLocalApicVersion;
        processor.flags = mp::kProcessorEnabled | (index == 0 ? mp::kProcessorBootstrap : 0);
        processor.signature = kCpuSignature;
        processor.feature_flags = kCpuFeatures;
        add(processor);
    }
    mp::BusEntry bus{};
    bus.type = mp::Bus;
    bus.bus_id = kIsaBusId;
    copy_text(bus.bus_type, "ISA   ");
    add(bus);
    mp::IoApicEntry ioapic{};
    ioapic.type = mp::IoApic;
    ioapic.id = ioapic_id;
    ioapic.version = kIoApicVersion;
    ioapic.flags = 1;
    ioapic.address = static_cast<uint32_t>(layout::kIoapic.value());
    add(ioapic);
    for (uint32_t pin = 0; pin < layout::kIoapicPins; ++pin) {
        mp::InterruptEntry interrupt{};
        interrupt.type = mp::IoInterrupt;
        // Every pin, IRQ0 included, is a plain INT: KVM routes GSI n to pin n, and
        // Linux's check_timer() oopses when IRQ0 is listed as ExtINT on an
        // IOAPIC pin that the hardware does not wire to the 8259.
        interrupt.interrupt_type = mp::Int;
        interrupt.source_bus = kIsaBusId;
        interrupt.source_irq = static_cast<uint8_t>(pin);
        interrupt.destination_id = ioapic_id;
        interrupt.destination_pin = static_cast<uint8_t>(pin);
        add(interrupt);
    }
    for (auto [type, lint] : {std::pair{mp::ExtInt, 0}, std::pair{mp::Nmi, 1}}) {
        mp::InterruptEntry local{};
        local.type = mp::LocalInterrupt;
        local.interrupt_type = type;
        local.source_bus = kIsaBusId;
        local.destination_id = kAllLocalApics;
        local.destination_pin = static_cast<uint8_t>(lint);
        add(local);
    }

    const GuestAddress pointer_address = layout::kEbda;
    const GuestAddress table_address = layout::kEbda + sizeof(mp::FloatingPointer);
    mp::ConfigurationHeader header{};
    copy_text(header.signature, "PCMP");
    header.base_table_length = static_cast<uint16_t>(sizeof(header) + entries.size());
    header.revision = kSpecRevision;
    copy_text(header.oem_id, "SKIFF   ");
    copy_text(header.product_id, "MICROVM     ");
    header.entry_count = entry_count;
    header.local_apic_address = static_cast<uint32_t>(layout::kLocalApic.value());
    std::vector<std::byte> table;
    append_object(table, header);
    table.insert(table.end(), entries.begin(), entries.end());
    table[offsetof(mp::ConfigurationHeader, checksum)] = std::byte{checksum_for(table)};

    mp::FloatingPointer pointer{};
    copy_text(pointer.signature, "_MP_");
    pointer.configuration_table = static_cast<uint32_t>(table_address.value());
    pointer.length = 1;
    pointer.revision = kSpecRevision;
    pointer.checksum = checksum_for(std::as_bytes(std::span(&pointer, 1)));

    TRY(memory.write_object(pointer_address, pointer).context_error("writing the MP floating pointer"));
    TRY(memory.write(table_address, table).context_error("writing the MP configuration table"));
    return {};
}

}  // namespace skiff::boot
