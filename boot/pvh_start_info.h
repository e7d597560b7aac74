// The PVH boot information, following the Xen PVH start_info ABI (Xen
// public/arch-x86/hvm/start_info.h, version 1): `struct hvm_start_info` at
// layout::kPvhStartInfo, the initrd as module 0 at layout::kPvhModuleList,
// and the memory map at layout::kPvhMemmap. The structs are written here from
// the ABI's description; the static_asserts pin the documented offsets.
#pragma once

#include "boot/initrd.h"
#include "boot/memory_map.h"

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

namespace skiff::boot {

namespace pvh {

inline constexpr uint32_t kStartInfoMagic = 0x336ec578;
inline constexpr uint32_t kStartInfoVersion = 1;  // memmap fields present

struct StartInfo {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t module_count;
    uint64_t module_list_address;
    uint64_t cmdline_address;
    uint64_t rsdp_address;
    uint64_t memmap_address;
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(StartInfo) == 0x38);
static_assert(offsetof(StartInfo, module_list_address) == 0x10);
static_assert(offsetof(StartInfo, cmdline_address) == 0x18);
static_assert(offsetof(StartInfo, rsdp_address) == 0x20);
static_assert(offsetof(StartInfo, memmap_address) == 0x28);
static_assert(offsetof(StartInfo, memmap_entries) == 0x30);

struct ModuleEntry {
    uint64_t address;
    uint64_t size;
    uint64_t cmdline_address;
    uint64_t reserved;
};
static_assert(sizeof(ModuleEntry) == 32);

struct MemmapEntry {
    uint64_t address;
    uint64_t size;
    uint32_t type;  // 1 RAM, 2 reserved (the e820 types)
    uint32_t reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

}  // namespace pvh

struct PvhContents {
    GuestAddress cmdline;
    std::optional<InitrdPlacement> initrd;
    std::optional<GuestAddress> rsdp;
    std::vector<MemoryMapEntry> memory_map;
};

// Writes start info, module list and memmap; returns the start info address.
// Fails if the memmap does not fit between kPvhMemmap and the zero page.
[[nodiscard]] Result<GuestAddress> write_pvh_start_info(const GuestMemory& memory, const PvhContents& contents);

}  // namespace skiff::boot
