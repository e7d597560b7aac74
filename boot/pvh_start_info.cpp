// PVH boot information; see pvh_start_info.h (Xen PVH start_info ABI).
#include "boot/pvh_start_info.h"

#include "boot/layout.h"

namespace skiff::boot {

static_assert(layout::kPvhStartInfo.value() + sizeof(pvh::StartInfo) <= layout::kPvhModuleList.value(),
              "the module list must follow the start info");
static_assert(layout::kPvhModuleList.value() + sizeof(pvh::ModuleEntry) <= layout::kPvhMemmap.value(),
              "one module (the initrd) must fit before the memmap");

Result<GuestAddress> write_pvh_start_info(const GuestMemory& memory, const PvhContents& contents) {
    // The memmap ends where the zero page starts (unused by PVH, but kept
    // clear so the low layout stays one fact).
    const uint64_t capacity = (layout::kZeroPage.value() - layout::kPvhMemmap.value()) / sizeof(pvh::MemmapEntry);
    if (contents.memory_map.size() > capacity) {
        return Error::format("PVH memmap has {} entries; there is room for {}", contents.memory_map.size(), capacity);
    }
    std::vector<pvh::MemmapEntry> memmap;
    for (const MemoryMapEntry& entry : contents.memory_map) {
        memmap.push_back(pvh::MemmapEntry{entry.start.value(), entry.size, static_cast<uint32_t>(entry.type), 0});
    }
    TRY(memory.write(layout::kPvhMemmap, std::as_bytes(std::span(memmap))));

    pvh::StartInfo info{};
    info.magic = pvh::kStartInfoMagic;
    info.version = pvh::kStartInfoVersion;
    info.cmdline_address = contents.cmdline.value();
    info.rsdp_address = contents.rsdp ? contents.rsdp->value() : 0;
    info.memmap_address = layout::kPvhMemmap.value();
    info.memmap_entries = static_cast<uint32_t>(memmap.size());
    if (contents.initrd) {
        pvh::ModuleEntry module{contents.initrd->address.value(), contents.initrd->size, 0, 0};
        TRY(memory.write_object(layout::kPvhModuleList, module));
        info.module_count = 1;
        info.module_list_address = layout::kPvhModuleList.value();
    }
    TRY(memory.write_object(layout::kPvhStartInfo, info));
    return layout::kPvhStartInfo;
}

}  // namespace skiff::boot
