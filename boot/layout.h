// The x86 microVM platform skiff presents to a guest: where things live in
// guest-physical memory and I/O space. The test guest relies on the same
// facts (guest-images/testguest/platform.h mirrors the ones it needs).
#pragma once

#include "vmm/guest_memory.h"

#include <cstdint>

namespace skiff::layout {

// Low memory, below 1 MiB.
inline constexpr GuestAddress kGdt{0x500};          // boot GDT (4 entries)
inline constexpr GuestAddress kIdt{0x520};          // empty boot IDT
inline constexpr GuestAddress kPvhStartInfo{0x6000};  // hvm_start_info + module list
inline constexpr GuestAddress kPvhModuleList{0x6040};  // hvm_modlist_entry[] (initrd)
inline constexpr GuestAddress kPvhMemmap{0x6800};   // hvm_memmap_table_entry[]
inline constexpr GuestAddress kZeroPage{0x7000};    // Linux boot_params
inline constexpr GuestAddress kBootStack{0x8ff0};   // initial RSP for 64-bit entry
inline constexpr GuestAddress kPml4{0x9000};        // identity page tables: PML4,
inline constexpr GuestAddress kPdpt{0xa000};        //   PDPT,
inline constexpr GuestAddress kPd{0xb000};          //   4 PDs (2 MiB pages, 0-4 GiB)
inline constexpr GuestAddress kCmdline{0x20000};    // kernel command line
inline constexpr uint64_t kCmdlineMax = 0x10000;    // bytes, including the NUL
inline constexpr GuestAddress kEbda{0x9fc00};       // MP floating pointer + table
inline constexpr uint64_t kEbdaSize = 0x400;
inline constexpr GuestAddress kLowMemoryEnd{0xa0000};  // start of the VGA hole
inline constexpr GuestAddress kBiosRom{0xe0000};    // RSDP and ACPI tables here
inline constexpr uint64_t kBiosRomSize = 0x20000;
inline constexpr GuestAddress kHighMemory{0x100000};  // kernels load here

// The 32-bit MMIO hole: guest RAM beyond kMmioHoleStart continues at 4 GiB.
inline constexpr GuestAddress kMmioHoleStart{0xc0000000};
inline constexpr GuestAddress kMmioHoleEnd{0x100000000};
// PCI BAR window (32-bit), used by the PCI issue.
inline constexpr GuestAddress kPciMmioStart{0xc0000000};
inline constexpr uint64_t kPciMmioSize = 0x10000000;
// Platform MMIO devices: the boot doorbell, then virtio-mmio slots.
inline constexpr GuestAddress kBootDoorbell{0xd0000000};
inline constexpr uint64_t kBootDoorbellSize = 0x1000;
inline constexpr uint8_t kBootDoorbellMagic = 123;  // the value a guest writes at offset 0
inline constexpr GuestAddress kVirtioMmioStart{0xd0001000};
inline constexpr uint64_t kVirtioMmioSlotSize = 0x1000;
inline constexpr uint32_t kVirtioMmioSlots = 16;  // IRQs: virtio_mmio_irq()
inline constexpr GuestAddress kIoapic{0xfec00000};
inline constexpr GuestAddress kLocalApic{0xfee00000};
// KVM needs three pages for the TSS and one for the identity map, in the hole.
inline constexpr GuestAddress kKvmIdentityMap{0xfeffc000};
inline constexpr GuestAddress kKvmTss{0xfeffd000};

// Port I/O.
inline constexpr uint16_t kCom1Port = 0x3f8;
inline constexpr uint32_t kCom1Irq = 4;
inline constexpr uint16_t kI8042DataPort = 0x60;
inline constexpr uint16_t kI8042CommandPort = 0x64;
inline constexpr uint8_t kI8042ResetCommand = 0xfe;
inline constexpr uint32_t kI8042KeyboardIrq = 1;
inline constexpr uint32_t kI8042AuxIrq = 12;  // the second (mouse) port
// ACPI sleep control and status registers (the FADT names them).
inline constexpr uint16_t kAcpiSleepControlPort = 0x600;
inline constexpr uint16_t kAcpiSleepStatusPort = 0x601;

// IRQs 5..23 but the i8042's 12 are free for devices.
inline constexpr uint32_t kFirstDeviceIrq = 5;
inline constexpr uint32_t kIoapicPins = 24;

// The IRQ of virtio-mmio slot `slot`: 5..11, then 13..21.
constexpr uint32_t virtio_mmio_irq(uint32_t slot) {
    const uint32_t irq = kFirstDeviceIrq + slot;
    return irq >= kI8042AuxIrq ? irq + 1 : irq;
}
static_assert(virtio_mmio_irq(kVirtioMmioSlots - 1) < kIoapicPins);

}  // namespace skiff::layout
