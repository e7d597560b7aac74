// Initial ramdisk placement. Linux Documentation/arch/x86/boot.rst asks for
// the initrd as high as possible below initrd_addr_max; skiff also keeps it
// in the first RAM region, below the 32-bit MMIO hole, and above the kernel
// (whose decompressor must not overwrite it).
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>

namespace skiff::boot {

// The initrd's bytes, copied once, straight into their place in guest
// memory: a large initrd read from a file never sits in skiff's own memory
// too. From bytes in memory (implicitly) or from a size and a reader.
struct InitrdSource {
    InitrdSource(std::span<const std::byte> bytes);  // NOLINT(google-explicit-constructor): a span is an initrd
    InitrdSource(uint64_t byte_count, std::function<Result<void>(std::span<std::byte>)> reader)
        : size(byte_count), copy_to(std::move(reader)) {}

    uint64_t size = 0;
    // Fills exactly `size` bytes at the given place.
    std::function<Result<void>(std::span<std::byte>)> copy_to;
};

struct InitrdPlacement {
    GuestAddress address;
    uint64_t size = 0;
};

// Copies the initrd to the highest page-aligned address A with A >= lowest and
// A + size <= min(limit, end of the first RAM region, kMmioHoleStart).
// `limit` is exclusive (initrd_addr_max + 1 for a bzImage).
[[nodiscard]] Result<InitrdPlacement> place_initrd(const GuestMemory& memory, const InitrdSource& initrd,
                                                   uint64_t lowest, uint64_t limit);

}  // namespace skiff::boot
