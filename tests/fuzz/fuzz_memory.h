// Guest memory for the fuzz targets: one region with an inaccessible page on
// each side where the address space allows, so that a host access that
// escapes the region (an unchecked ring index, say) faults at once instead
// of silently reading a neighbouring mapping. Made once per process; each
// input clears it.
#pragma once

#include "vmm/guest_memory.h"

#include <sys/mman.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

namespace skiff::fuzz {

inline constexpr size_t kGuardSize = 4096;

inline bool map_guard(void* at) {
    void* guard = ::mmap(at, kGuardSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    if (guard == MAP_FAILED) {
        return false;
    }
    if (guard != at) {  // kernels before 4.17 ignore MAP_FIXED_NOREPLACE
        ::munmap(guard, kGuardSize);
        return false;
    }
    return true;
}

inline GuestMemory make_guarded_memory(GuestAddress start, uint64_t size) {
    // Mappings go top-down into the highest gap that fits: reserve the
    // region plus a guard page, give back all but the guard, and the region
    // usually lands right below the guard. Attempts that miss stay mapped so
    // the next one goes elsewhere.
    static std::vector<GuestMemory> missed;
    for (int attempt = 0; attempt < 8; ++attempt) {
        void* reservation = ::mmap(nullptr, size + kGuardSize, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (reservation != MAP_FAILED) {
            ::munmap(reservation, size);
        }
        auto memory = GuestMemory::create({{start, size}});
        if (!memory.ok()) {
            std::fprintf(stderr, "fuzz: guest memory: %s\n", memory.error().message.c_str());
            std::abort();
        }
        std::byte* host = memory->regions().front().host;
        // Or, where the kernel aligned the region (larger anonymous
        // mappings go on huge-page boundaries), a guard in the gap above.
        const bool guarded_above =
            (reservation != MAP_FAILED && host + size == static_cast<std::byte*>(reservation) + size) ||
            map_guard(host + size);
        if (guarded_above && map_guard(host - kGuardSize)) {
            return std::move(memory).value();
        }
        missed.push_back(std::move(memory).value());
    }
    std::fprintf(stderr, "fuzz: could not surround guest memory with guard pages\n");
    return GuestMemory::create({{start, size}}).value();
}

}  // namespace skiff::fuzz
