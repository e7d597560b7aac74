// The Linux zero page; see zero_page.h (Linux boot.rst, zero-page.rst).
#include "boot/zero_page.h"

namespace skiff::boot {

namespace {

using linux_boot::BootParams;

// boot.rst: heap_end_ptr is "the offset (from the beginning of the real-mode
// code) of the end of the setup stack/heap, minus 0x0200"; 0xe000 is the
// end its example loader uses. The 64-bit entry skips the real-mode code,
// but CAN_USE_HEAP with a sane value costs nothing.
constexpr uint16_t kHeapEnd = 0xe000 - 0x200;

uint32_t low_half(uint64_t value) { return static_cast<uint32_t>(value); }
uint32_t high_half(uint64_t value) { return static_cast<uint32_t>(value >> 32); }

}  // namespace

Result<BootParams> build_zero_page(const std::optional<BzImageLayout>& bzimage, const ZeroPageContents& contents) {
    if (contents.memory_map.size() > linux_boot::kE820MaxEntries) {
        return Error::format("memory map has {} entries; the zero page holds {}", contents.memory_map.size(),
                             linux_boot::kE820MaxEntries);
    }
    BootParams params{};
    if (bzimage) {
        params.hdr = bzimage->header;
    } else {
        // An ELF vmlinux has no setup header: give it the fields the kernel
        // checks before it trusts the rest.
        params.hdr.boot_flag = linux_boot::kBootFlag;
        params.hdr.header = linux_boot::kHeaderMagic;
        params.hdr.version = linux_boot::kCurrentVersion;
        params.hdr.loadflags = linux_boot::kLoadedHigh;
    }
    params.hdr.type_of_loader = linux_boot::kUndefinedLoader;
    params.hdr.loadflags |= linux_boot::kCanUseHeap;
    params.hdr.heap_end_ptr = kHeapEnd;
    params.hdr.cmd_line_ptr = low_half(contents.cmdline.value());
    params.ext_cmd_line_ptr = high_half(contents.cmdline.value());
    if (contents.initrd) {
        params.hdr.ramdisk_image = low_half(contents.initrd->address.value());
        params.hdr.ramdisk_size = low_half(contents.initrd->size);
        params.ext_ramdisk_image = high_half(contents.initrd->address.value());
        params.ext_ramdisk_size = high_half(contents.initrd->size);
    }
    if (contents.rsdp) {
        params.acpi_rsdp_address = contents.rsdp->value();
    }
    params.e820_entries = static_cast<uint8_t>(contents.memory_map.size());
    for (size_t index = 0; index < contents.memory_map.size(); ++index) {
        const MemoryMapEntry& entry = contents.memory_map[index];
        params.e820_table[index].address = entry.start.value();
        params.e820_table[index].size = entry.size;
        params.e820_table[index].type = static_cast<uint32_t>(entry.type);
    }
    return params;
}

}  // namespace skiff::boot
