// The x86 microVM platform as the test guest sees it. Mirrors the facts the
// guest needs from boot/layout.h (a C++ header the guest cannot include);
// keep the two in step.
#pragma once

// Serial console: COM1, an 8250-compatible UART.
#define PLATFORM_COM1_PORT 0x3f8

// i8042 keyboard controller: writing the reset command to the command port
// asks the VMM to reset the machine; skiff exits with status 0 on it.
#define PLATFORM_I8042_DATA_PORT 0x60
#define PLATFORM_I8042_COMMAND_PORT 0x64
#define PLATFORM_I8042_RESET_COMMAND 0xfe

// Boot doorbell: the guest writes the magic byte at offset 0 once it runs, so
// the VMM can time "start-up to first guest instruction" without a console.
#define PLATFORM_BOOT_DOORBELL 0xd0000000ul
#define PLATFORM_BOOT_DOORBELL_SIZE 0x1000ul
#define PLATFORM_BOOT_DOORBELL_MAGIC 123

// virtio-mmio slots follow the doorbell, one page each.
#define PLATFORM_VIRTIO_MMIO_START 0xd0001000ul
#define PLATFORM_VIRTIO_MMIO_SLOT_SIZE 0x1000ul

// Where firmware tables may live (searched for ACPI's RSDP and the MP
// floating pointer): the first KiB of the EBDA, whose segment the BIOS data
// area holds, and the BIOS ROM area.
#define PLATFORM_EBDA_SEGMENT_POINTER 0x40eul
#define PLATFORM_EBDA_SEARCH_SIZE 0x400ul
#define PLATFORM_LOW_MEMORY_END 0xa0000ul
#define PLATFORM_BIOS_ROM 0xe0000ul
#define PLATFORM_BIOS_ROM_SIZE 0x20000ul

// Kernels load here (the test guest's linker script says the same).
#define PLATFORM_HIGH_MEMORY 0x100000ul

// The 32-bit MMIO hole; guest RAM beyond its start continues at 4 GiB.
#define PLATFORM_MMIO_HOLE_START 0xc0000000ul
#define PLATFORM_MMIO_HOLE_END 0x100000000ul
#define PLATFORM_PCI_MMIO_START 0xc0000000ul
#define PLATFORM_PCI_MMIO_SIZE 0x10000000ul
#define PLATFORM_IOAPIC 0xfec00000ul
#define PLATFORM_LOCAL_APIC 0xfee00000ul

// The longest command line a VMM passes, including the NUL.
#define PLATFORM_CMDLINE_MAX 0x10000ul

// IRQs 5..23 are free for devices (virtio-mmio uses them from 5 on).
#define PLATFORM_FIRST_DEVICE_IRQ 5
#define PLATFORM_IOAPIC_PINS 24
