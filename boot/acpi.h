// ACPI tables for a hardware-reduced x86 microVM (ACPI 6.5): RSDP (revision
// 2) at layout::kBiosRom where legacy scans find it, then XSDT, FADT
// (revision 6, HW_REDUCED_ACPI), DSDT (AML from aml.h) and MADT (local APICs,
// IOAPIC, ISA IRQ0 -> GSI 2 override, LINT1 NMI), all inside the BIOS area
// [0xe0000, 0x100000) that the memory map reports as reserved.
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace skiff::boot {

// A virtio-mmio device to describe in the DSDT (HID "LNRO0005", what
// Linux's virtio_mmio driver matches), with an edge-triggered interrupt.
struct AcpiMmioDevice {
    GuestAddress base;
    uint32_t size = 0;
    uint32_t irq = 0;  // GSI
};

// A PCI host bridge for bus 0, so that an ACPI kernel scans it (it scans
// only the buses the DSDT names): configuration mechanism #1 at the given
// ports, and the window its BARs live in.
struct AcpiPciHostBridge {
    uint16_t config_port = 0;
    uint8_t config_port_count = 0;
    GuestAddress window;
    uint32_t window_size = 0;
};

// One-byte I/O ports; the guest writes SLP_TYP `soft_off_type` with SLP_EN
// to `control_port` to power off.
struct AcpiSleepRegisters {
    uint16_t control_port = 0;
    uint16_t status_port = 0;
    uint8_t soft_off_type = 0;
};

struct AcpiConfig {
    uint32_t cpu_count = 1;  // 1..254: APIC IDs 0..n-1, the IOAPIC takes n
    std::vector<AcpiMmioDevice> virtio_mmio_devices;
    // The i8042 with a keyboard (HID PNP0303: ports 0x60 and 0x64, IRQ 1),
    // so that an ACPI kernel binds its i8042/atkbd drivers (Ctrl-Alt-Del),
    // and its second port (HID PNP0F13, IRQ 12): without it in the DSDT,
    // Linux takes the controller to have none.
    bool ps2_keyboard = false;
    // COM1 (HID PNP0501: ports 0x3f8-0x3ff, IRQ 4). An ACPI kernel maps
    // ISA IRQs only for devices it finds in the DSDT (a hardware-reduced
    // machine has no legacy PIC): without it, ttyS0 keeps an IRQ 4 that
    // reaches nothing, and user space's writes to the console never leave.
    bool com1 = false;
    // The sleep registers (FADT) and \_S5 (DSDT): how an ACPI guest powers off.
    std::optional<AcpiSleepRegisters> sleep_registers;
    std::optional<AcpiPciHostBridge> pci_host_bridge;
};

// Returns the RSDP address. Errors: cpu_count out of range, a device outside
// the 32-bit space, or tables that would not fit in the BIOS area.
[[nodiscard]] Result<GuestAddress> write_acpi_tables(const GuestMemory& memory, const AcpiConfig& config);

// The DSDT's AML term list (without the table header), for tests.
[[nodiscard]] Result<std::vector<uint8_t>> dsdt_definitions(const AcpiConfig& config);

}  // namespace skiff::boot
