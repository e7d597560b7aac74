// Initial ramdisk placement. Linux Documentation/arch/x86/boot.rst asks for
// the initrd as high as possible below initrd_addr_max; skiff also keeps it
// in the first RAM region, below the 32-bit MMIO hole, and above the kernel
// (whose decompressor must not overwrite it).
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <span>

namespace skiff::boot {

struct InitrdPlacement {
    GuestAddress address;
    uint64_t size = 0;
};

// Copies `initrd` to the highest page-aligned address A with A >= lowest and
// A + size <= min(limit, end of the first RAM region, kMmioHoleStart).
// `limit` is exclusive (initrd_addr_max + 1 for a bzImage).
[[nodiscard]] Result<InitrdPlacement> place_initrd(const GuestMemory& memory, std::span<const std::byte> initrd,
                                                   uint64_t lowest, uint64_t limit);

}  // namespace skiff::boot
