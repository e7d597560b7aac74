// The MultiProcessor Specification 1.4 tables at layout::kEbda: the MP
// floating pointer ("_MP_") followed by the configuration table ("PCMP")
// with one processor entry per vCPU (APIC ID = index, BSP = 0), an ISA bus,
// the IOAPIC (ID = cpu_count, at layout::kIoapic), I/O interrupt entries for
// IOAPIC pins 0..23 (ISA IRQ n -> pin n; pin 0 is ExtINT, the 8259's
// virtual-wire input Linux looks for) and the LINT0 ExtINT / LINT1 NMI
// local interrupts. The structs are written from the spec's chapter 4.
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstdint>

namespace skiff::boot {

namespace mp {

struct [[gnu::packed]] FloatingPointer {
    char signature[4];  // "_MP_"
    uint32_t configuration_table;
    uint8_t length;     // in 16-byte units: 1
    uint8_t revision;   // 4: MP spec 1.4
    uint8_t checksum;
    uint8_t features[5];  // features[0] = 0: a configuration table is present
};
static_assert(sizeof(FloatingPointer) == 16);

struct [[gnu::packed]] ConfigurationHeader {
    char signature[4];  // "PCMP"
    uint16_t base_table_length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[8];
    char product_id[12];
    uint32_t oem_table;
    uint16_t oem_table_size;
    uint16_t entry_count;
    uint32_t local_apic_address;
    uint16_t extended_table_length;
    uint8_t extended_table_checksum;
    uint8_t reserved;
};
static_assert(sizeof(ConfigurationHeader) == 44);

enum EntryType : uint8_t { Processor = 0, Bus = 1, IoApic = 2, IoInterrupt = 3, LocalInterrupt = 4 };
enum InterruptType : uint8_t { Int = 0, Nmi = 1, Smi = 2, ExtInt = 3 };

struct [[gnu::packed]] ProcessorEntry {
    uint8_t type;
    uint8_t local_apic_id;
    uint8_t local_apic_version;
    uint8_t flags;  // bit 0 enabled, bit 1 bootstrap processor
    uint32_t signature;
    uint32_t feature_flags;
    uint32_t reserved[2];
};
static_assert(sizeof(ProcessorEntry) == 20);

struct [[gnu::packed]] BusEntry {
    uint8_t type;
    uint8_t bus_id;
    char bus_type[6];  // "ISA   "
};
static_assert(sizeof(BusEntry) == 8);

struct [[gnu::packed]] IoApicEntry {
    uint8_t type;
    uint8_t id;
    uint8_t version;
    uint8_t flags;  // bit 0 enabled
    uint32_t address;
};
static_assert(sizeof(IoApicEntry) == 8);

// Both I/O (type 3) and local (type 4) interrupt assignment entries.
struct [[gnu::packed]] InterruptEntry {
    uint8_t type;
    uint8_t interrupt_type;
    uint16_t flags;  // 0: polarity and trigger conform to the bus
    uint8_t source_bus;
    uint8_t source_irq;
    uint8_t destination_id;   // IOAPIC ID, or local APIC ID (0xff: all)
    uint8_t destination_pin;  // IOAPIC INTIN#, or LINTIN#
};
static_assert(sizeof(InterruptEntry) == 8);

inline constexpr uint8_t kProcessorEnabled = 0x01;
inline constexpr uint8_t kProcessorBootstrap = 0x02;
inline constexpr uint32_t kMaxCpuCount = 254;  // APIC IDs 0..253, the IOAPIC takes the next

}  // namespace mp

// Bytes the floating pointer and configuration table take for `cpu_count`.
[[nodiscard]] uint64_t mp_table_size(uint32_t cpu_count);
// The most vCPUs whose table fits in the EBDA (37 with a 1 KiB EBDA).
[[nodiscard]] uint32_t mp_table_max_cpus();

// Errors: cpu_count 0 or above 254, or a table that does not fit in the EBDA.
[[nodiscard]] Result<void> write_mp_table(const GuestMemory& memory, uint32_t cpu_count);

}  // namespace skiff::boot
