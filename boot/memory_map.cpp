// The guest memory map (e820 / PVH memmap); see memory_map.h.
#include "boot/memory_map.h"

#include "boot/layout.h"

#include <algorithm>

namespace skiff::boot {

std::vector<MemoryMapEntry> guest_memory_map(const GuestMemory& memory) {
    std::vector<MemoryMapEntry> entries;
    auto add = [&entries](uint64_t start, uint64_t end, MemoryType type) {
        if (end > start) {
            entries.push_back(MemoryMapEntry{GuestAddress(start), end - start, type});
        }
    };
    for (const GuestRegion& region : memory.regions()) {
        const uint64_t start = region.start.value();
        const uint64_t end = region.end();
        // Conventional memory stops where the EBDA starts; 0xa0000-0xfffff
        // is the VGA hole and the BIOS area, never RAM.
        add(start, std::min(end, layout::kEbda.value()), MemoryType::Ram);
        add(std::max(start, layout::kHighMemory.value()), end, MemoryType::Ram);
    }
    add(layout::kEbda.value(), layout::kLowMemoryEnd.value(), MemoryType::Reserved);
    add(layout::kBiosRom.value(), layout::kBiosRom.value() + layout::kBiosRomSize, MemoryType::Reserved);
    std::sort(entries.begin(), entries.end(),
              [](const MemoryMapEntry& a, const MemoryMapEntry& b) { return a.start < b.start; });
    return entries;
}

}  // namespace skiff::boot
