// The guest-physical memory map skiff reports to a kernel, in both the Linux
// e820 table (zero-page.rst) and the PVH memmap (Xen start_info ABI), which
// share the ACPI address-range types: RAM below the EBDA, the EBDA and the
// BIOS area (where the MP and ACPI tables live) reserved, RAM from 1 MiB to
// the end of each guest memory region (the second one starts at 4 GiB).
#pragma once

#include "vmm/guest_memory.h"

#include <cstdint>
#include <vector>

namespace skiff::boot {

enum class MemoryType : uint32_t { Ram = 1, Reserved = 2 };

struct MemoryMapEntry {
    GuestAddress start;
    uint64_t size = 0;
    MemoryType type = MemoryType::Ram;

    bool operator==(const MemoryMapEntry&) const = default;
};

// Sorted by address, non-overlapping.
[[nodiscard]] std::vector<MemoryMapEntry> guest_memory_map(const GuestMemory& memory);

}  // namespace skiff::boot
