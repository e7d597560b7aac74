// The boot CPU's initial state for the two entries in loader.h, and the
// structures it points at (Intel SDM vol. 3: segment descriptors 3.4.5,
// IA-32e paging 4.5; Linux boot.rst "64-bit boot protocol"; Xen PVH ABI).
//
// Boot GDT at layout::kGdt (four 8-byte descriptors):
//   0x00 null
//   0x08 32-bit flat code (PVH: "CS: 32-bit read/execute, base 0, limit 4 GiB";
//        the ABI leaves the selector value open; Linux's boot GDT has this
//        slot unused, so taking it changes nothing for the 64-bit entry)
//   0x10 64-bit code (Linux __BOOT_CS)
//   0x18 flat data   (Linux __BOOT_DS), for DS/ES/SS/FS/GS in both modes
// Page tables: identity map of 0-4 GiB with 2 MiB pages (PML4 at kPml4, one
// PDPT at kPdpt, four page directories from kPd), used by the 64-bit entry.
#pragma once

#include "boot/loader.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <linux/kvm.h>

#include <array>
#include <cstdint>

namespace skiff::boot {

inline constexpr uint16_t kCode32Selector = 0x08;
inline constexpr uint16_t kCode64Selector = 0x10;
inline constexpr uint16_t kDataSelector = 0x18;
inline constexpr size_t kGdtEntries = 4;

// Control register and EFER bits.
inline constexpr uint64_t kCr0ProtectionEnable = 1u << 0;
inline constexpr uint64_t kCr0ExtensionType = 1u << 4;
inline constexpr uint64_t kCr0Paging = 1u << 31;
inline constexpr uint64_t kCr4PhysicalAddressExtension = 1u << 5;
inline constexpr uint64_t kEferLongModeEnable = 1u << 8;
inline constexpr uint64_t kEferLongModeActive = 1u << 10;

// The descriptors written at kGdt, indexed by selector / 8.
[[nodiscard]] std::array<uint64_t, kGdtEntries> boot_gdt();

// The KVM segment register a selector loads from `descriptor`: the same
// fields, so the cached state and the in-memory GDT always agree.
[[nodiscard]] kvm_segment segment_from_descriptor(uint64_t descriptor, uint16_t selector);

// Writes the GDT, an empty IDT and the identity page tables.
[[nodiscard]] Result<void> write_boot_structures(const GuestMemory& memory);

// Fills the boot vCPU's registers for `setup`. `special` should hold the
// vCPU's current special registers (KVM_GET_SREGS): fields the entry does
// not define are kept (LDT, APIC base, ...; TR too for Linux64, while PVH
// gets the 32-bit TSS its ABI names).
void initial_registers(const BootSetup& setup, kvm_regs& registers, kvm_sregs& special);

}  // namespace skiff::boot
