// ACPI table layouts skiff writes, from the ACPI 6.5 specification: RSDP
// (5.2.5.3), system description table header (5.2.6), FADT (5.2.9, revision
// 6), MADT and its interrupt controller structures (5.2.12). The
// static_asserts pin sizes and the offsets the spec's tables list.
#pragma once

#include <cstddef>
#include <cstdint>

namespace skiff::boot::acpi {

struct [[gnu::packed]] Rsdp {
    char signature[8];  // "RSD PTR "
    uint8_t checksum;   // over the first 20 bytes (the ACPI 1.0 part)
    char oem_id[6];
    uint8_t revision;   // 2: ACPI 2.0+ with XSDT
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;  // over all `length` bytes
    uint8_t reserved[3];
};
static_assert(sizeof(Rsdp) == 36);
static_assert(offsetof(Rsdp, xsdt_address) == 24);
inline constexpr size_t kRsdpV1Length = 20;

struct [[gnu::packed]] TableHeader {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    char creator_id[4];
    uint32_t creator_revision;
};
static_assert(sizeof(TableHeader) == 36);

struct [[gnu::packed]] GenericAddress {
    uint8_t address_space;
    uint8_t bit_width;
    uint8_t bit_offset;
    uint8_t access_size;
    uint64_t address;
};
static_assert(sizeof(GenericAddress) == 12);
inline constexpr uint8_t kAddressSpaceSystemIo = 1;
inline constexpr uint8_t kAccessSizeByte = 1;

struct [[gnu::packed]] Fadt {
    TableHeader header;
    uint32_t firmware_control;
    uint32_t dsdt;
    uint8_t reserved0;
    uint8_t preferred_pm_profile;
    uint16_t sci_interrupt;
    uint32_t smi_command;
    uint8_t acpi_enable;
    uint8_t acpi_disable;
    uint8_t s4bios_request;
    uint8_t pstate_control;
    uint32_t pm1a_event_block;
    uint32_t pm1b_event_block;
    uint32_t pm1a_control_block;
    uint32_t pm1b_control_block;
    uint32_t pm2_control_block;
    uint32_t pm_timer_block;
    uint32_t gpe0_block;
    uint32_t gpe1_block;
    uint8_t pm1_event_length;
    uint8_t pm1_control_length;
    uint8_t pm2_control_length;
    uint8_t pm_timer_length;
    uint8_t gpe0_block_length;
    uint8_t gpe1_block_length;
    uint8_t gpe1_base;
    uint8_t cstate_control;
    uint16_t c2_latency;
    uint16_t c3_latency;
    uint16_t flush_size;
    uint16_t flush_stride;
    uint8_t duty_offset;
    uint8_t duty_width;
    uint8_t day_alarm;
    uint8_t month_alarm;
    uint8_t century;
    uint16_t iapc_boot_arch;
    uint8_t reserved1;
    uint32_t flags;
    GenericAddress reset_register;
    uint8_t reset_value;
    uint16_t arm_boot_arch;
    uint8_t minor_version;
    uint64_t x_firmware_control;
    uint64_t x_dsdt;
    GenericAddress x_pm1a_event_block;
    GenericAddress x_pm1b_event_block;
    GenericAddress x_pm1a_control_block;
    GenericAddress x_pm1b_control_block;
    GenericAddress x_pm2_control_block;
    GenericAddress x_pm_timer_block;
    GenericAddress x_gpe0_block;
    GenericAddress x_gpe1_block;
    GenericAddress sleep_control_register;
    GenericAddress sleep_status_register;
    uint64_t hypervisor_vendor_identity;
};
static_assert(sizeof(Fadt) == 276);
static_assert(offsetof(Fadt, dsdt) == 40);
static_assert(offsetof(Fadt, iapc_boot_arch) == 109);
static_assert(offsetof(Fadt, flags) == 112);
static_assert(offsetof(Fadt, minor_version) == 131);
static_assert(offsetof(Fadt, x_dsdt) == 140);
static_assert(offsetof(Fadt, sleep_control_register) == 244);
static_assert(offsetof(Fadt, hypervisor_vendor_identity) == 268);

// FADT flags and IA-PC boot architecture flags.
inline constexpr uint32_t kFadtHardwareReduced = 1u << 20;
inline constexpr uint16_t kBootArchLegacyDevices = 1u << 0;
inline constexpr uint16_t kBootArch8042 = 1u << 1;
inline constexpr uint16_t kBootArchVgaNotPresent = 1u << 2;
inline constexpr uint16_t kBootArchMsiNotSupported = 1u << 3;
inline constexpr uint16_t kBootArchCmosRtcNotPresent = 1u << 5;

struct [[gnu::packed]] MadtHeader {
    TableHeader header;
    uint32_t local_apic_address;
    uint32_t flags;
};
static_assert(sizeof(MadtHeader) == 44);
inline constexpr uint32_t kMadtPcatCompat = 1;

enum MadtType : uint8_t { LocalApic = 0, IoApic = 1, InterruptOverride = 2, LocalApicNmi = 4 };

struct [[gnu::packed]] MadtLocalApic {
    uint8_t type;
    uint8_t length;
    uint8_t processor_uid;
    uint8_t apic_id;
    uint32_t flags;  // bit 0: enabled
};
static_assert(sizeof(MadtLocalApic) == 8);
inline constexpr uint32_t kLocalApicEnabled = 1;

struct [[gnu::packed]] MadtIoApic {
    uint8_t type;
    uint8_t length;
    uint8_t io_apic_id;
    uint8_t reserved;
    uint32_t address;
    uint32_t gsi_base;
};
static_assert(sizeof(MadtIoApic) == 12);

struct [[gnu::packed]] MadtInterruptOverride {
    uint8_t type;
    uint8_t length;
    uint8_t bus;     // 0: ISA
    uint8_t source;  // ISA IRQ
    uint32_t gsi;
    uint16_t flags;  // 0: conforms to the bus
};
static_assert(sizeof(MadtInterruptOverride) == 10);

struct [[gnu::packed]] MadtLocalApicNmi {
    uint8_t type;
    uint8_t length;
    uint8_t processor_uid;  // 0xff: all processors
    uint16_t flags;
    uint8_t lint;
};
static_assert(sizeof(MadtLocalApicNmi) == 6);

}  // namespace skiff::boot::acpi
