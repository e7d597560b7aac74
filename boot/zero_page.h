// The Linux zero page (`struct boot_params`) for the 64-bit boot protocol,
// Linux Documentation/arch/x86/boot.rst ("64-bit boot protocol") and
// zero-page.rst: the image's setup header (bzImage) or a minimal one (ELF
// vmlinux), loader identity, command line, initrd, RSDP and the e820 map.
#pragma once

#include "boot/boot_params.h"
#include "boot/initrd.h"
#include "boot/kernel_image.h"
#include "boot/memory_map.h"

#include <optional>
#include <vector>

namespace skiff::boot {

struct ZeroPageContents {
    GuestAddress cmdline;
    std::optional<InitrdPlacement> initrd;
    std::optional<GuestAddress> rsdp;
    std::vector<MemoryMapEntry> memory_map;
};

// `bzimage` is the checked image header, or nothing for an ELF kernel.
// Fails when the memory map has more entries than the zero page holds.
[[nodiscard]] Result<linux_boot::BootParams> build_zero_page(const std::optional<BzImageLayout>& bzimage,
                                                             const ZeroPageContents& contents);

}  // namespace skiff::boot
