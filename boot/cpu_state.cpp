// Boot vCPU state; see cpu_state.h (Intel SDM vol. 3, Linux boot.rst 64-bit
// boot protocol, Xen PVH start_info ABI).
#include "boot/cpu_state.h"

#include "boot/layout.h"

#include <vector>

namespace skiff::boot {

namespace {

// Descriptor flags: access byte in bits 0-7 (type, S, DPL, P), then AVL,
// L, D/B and G in bits 12-15 (SDM 3.4.5, shifted down by 40).
constexpr uint16_t kFlagsCode32 = 0xc09b;  // G, D=1, present, code execute/read accessed
constexpr uint16_t kFlagsCode64 = 0xa09b;  // G, L=1, present, code execute/read accessed
constexpr uint16_t kFlagsData = 0xc093;    // G, B=1, present, data read/write accessed
constexpr uint32_t kFlatLimit = 0xfffff;   // 4 GiB in 4 KiB units

constexpr uint64_t make_descriptor(uint16_t flags, uint32_t base, uint32_t limit) {
    return (uint64_t{base & 0xff000000u} << 32) | (uint64_t{flags & 0xf0ffu} << 40) |
           (uint64_t{limit & 0xf0000u} << 32) | (uint64_t{base & 0x00ffffffu} << 16) | uint64_t{limit & 0xffffu};
}

constexpr uint64_t kPageSize = 4096;
constexpr uint64_t kLargePageSize = 2 * 1024 * 1024;
constexpr size_t kEntriesPerTable = 512;
constexpr size_t kPageDirectories = 4;  // 4 x 1 GiB
constexpr uint64_t kPresent = 1u << 0;
constexpr uint64_t kWritable = 1u << 1;
constexpr uint64_t kLargePage = 1u << 7;
constexpr uint16_t kEmptyIdtLimit = 7;  // one null gate: any interrupt faults, as it should before the kernel's IDT
constexpr uint64_t kReservedFlags = 0x2;
constexpr uint32_t kPvhTssLimit = 0x67;  // the size of a 32-bit TSS, minus one
constexpr uint8_t kBusyTss32 = 11;  // RFLAGS bit 1 is always set

static_assert(layout::kGdt.value() + kGdtEntries * 8 <= layout::kIdt.value(), "the GDT must not reach the IDT");
static_assert(layout::kPd.value() + kPageDirectories * kPageSize <= layout::kCmdline.value(),
              "the page directories must not reach the command line");

}  // namespace

std::array<uint64_t, kGdtEntries> boot_gdt() {
    std::array<uint64_t, kGdtEntries> gdt{};
    gdt[kCode32Selector / 8] = make_descriptor(kFlagsCode32, 0, kFlatLimit);
    gdt[kCode64Selector / 8] = make_descriptor(kFlagsCode64, 0, kFlatLimit);
    gdt[kDataSelector / 8] = make_descriptor(kFlagsData, 0, kFlatLimit);
    return gdt;
}

kvm_segment segment_from_descriptor(uint64_t descriptor, uint16_t selector) {
    kvm_segment segment{};
    segment.base = ((descriptor >> 16) & 0xffffff) | (((descriptor >> 56) & 0xff) << 24);
    const uint32_t raw_limit = static_cast<uint32_t>((descriptor & 0xffff) | (((descriptor >> 48) & 0xf) << 16));
    segment.g = static_cast<uint8_t>((descriptor >> 55) & 1);
    // With G set the limit counts 4 KiB pages: the low 12 bits read as ones.
    segment.limit = segment.g ? (raw_limit << 12) | 0xfff : raw_limit;
    segment.selector = selector;
    segment.type = static_cast<uint8_t>((descriptor >> 40) & 0xf);
    segment.s = static_cast<uint8_t>((descriptor >> 44) & 1);
    segment.dpl = static_cast<uint8_t>((descriptor >> 45) & 3);
    segment.present = static_cast<uint8_t>((descriptor >> 47) & 1);
    segment.avl = static_cast<uint8_t>((descriptor >> 52) & 1);
    segment.l = static_cast<uint8_t>((descriptor >> 53) & 1);
    segment.db = static_cast<uint8_t>((descriptor >> 54) & 1);
    segment.unusable = segment.present ? 0 : 1;
    return segment;
}

Result<void> write_boot_structures(const GuestMemory& memory) {
    const auto gdt = boot_gdt();
    TRY(memory.write(layout::kGdt, std::as_bytes(std::span(gdt))).context_error("writing the boot GDT"));
    TRY(memory.fill(layout::kIdt, kEmptyIdtLimit + 1, std::byte{0}).context_error("writing the boot IDT"));

    std::array<uint64_t, kEntriesPerTable> pml4{};
    pml4[0] = layout::kPdpt.value() | kPresent | kWritable;
    std::array<uint64_t, kEntriesPerTable> pdpt{};
    for (size_t index = 0; index < kPageDirectories; ++index) {
        pdpt[index] = (layout::kPd.value() + index * kPageSize) | kPresent | kWritable;
    }
    std::vector<uint64_t> directories(kPageDirectories * kEntriesPerTable);
    for (size_t index = 0; index < directories.size(); ++index) {
        directories[index] = (index * kLargePageSize) | kPresent | kWritable | kLargePage;
    }
    TRY(memory.write(layout::kPml4, std::as_bytes(std::span(pml4))).context_error("writing the boot PML4"));
    TRY(memory.write(layout::kPdpt, std::as_bytes(std::span(pdpt))).context_error("writing the boot PDPT"));
    TRY(memory.write(layout::kPd, std::as_bytes(std::span(directories))).context_error("writing the boot page "
                                                                                       "directories"));
    return {};
}

void initial_registers(const BootSetup& setup, kvm_regs& registers, kvm_sregs& special) {
    const auto gdt = boot_gdt();
    const kvm_segment data = segment_from_descriptor(gdt[kDataSelector / 8], kDataSelector);
    special.ds = data;
    special.es = data;
    special.fs = data;
    special.gs = data;
    special.ss = data;
    special.gdt.base = layout::kGdt.value();
    special.gdt.limit = static_cast<uint16_t>(kGdtEntries * 8 - 1);
    special.idt.base = layout::kIdt.value();
    special.idt.limit = kEmptyIdtLimit;

    registers = kvm_regs{};
    registers.rflags = kReservedFlags;
    registers.rip = setup.entry.value();
    // PVH defines no stack; Linux's 64-bit entry sets its own before use.
    // A valid one below the page tables costs nothing for either.
    registers.rsp = layout::kBootStack.value();
    registers.rbp = layout::kBootStack.value();

    if (setup.mode == EntryMode::Linux64) {
        special.cs = segment_from_descriptor(gdt[kCode64Selector / 8], kCode64Selector);
        special.cr0 = kCr0ProtectionEnable | kCr0ExtensionType | kCr0Paging;
        special.cr3 = layout::kPml4.value();
        special.cr4 = kCr4PhysicalAddressExtension;
        special.efer = kEferLongModeEnable | kEferLongModeActive;
        registers.rsi = setup.boot_info.value();
    } else {
        special.cs = segment_from_descriptor(gdt[kCode32Selector / 8], kCode32Selector);
        special.cr0 = kCr0ProtectionEnable | kCr0ExtensionType;
        special.cr3 = 0;
        special.cr4 = 0;
        special.efer = 0;
        registers.rbx = setup.boot_info.value();
        // The PVH ABI asks for an active 32-bit TSS with base 0, limit 0x67
        // in TR (the guest never switches tasks through it).
        special.tr = kvm_segment{};
        special.tr.limit = kPvhTssLimit;
        special.tr.type = kBusyTss32;
        special.tr.present = 1;
    }
}

}  // namespace skiff::boot
