// Initial ramdisk placement; see initrd.h (Linux boot.rst, "initrd_addr_max").
#include "boot/initrd.h"

#include "boot/layout.h"

#include <algorithm>
#include <cstring>

namespace skiff::boot {

namespace {
constexpr uint64_t kPageSize = 4096;
}

InitrdSource::InitrdSource(std::span<const std::byte> bytes)
    : size(bytes.size()), copy_to([bytes](std::span<std::byte> place) -> Result<void> {
          std::memcpy(place.data(), bytes.data(), std::min(place.size(), bytes.size()));
          return {};
      }) {}

Result<InitrdPlacement> place_initrd(const GuestMemory& memory, const InitrdSource& initrd, uint64_t lowest,
                                     uint64_t limit) {
    if (initrd.size == 0) {
        return Error{"initrd is empty"};
    }
    if (memory.regions().empty()) {
        return Error{"initrd: guest has no memory"};
    }
    const GuestRegion& first = memory.regions().front();
    const uint64_t top = std::min({limit, first.end(), layout::kMmioHoleStart.value()});
    const uint64_t size = initrd.size;
    const uint64_t aligned_lowest = (lowest + kPageSize - 1) & ~(kPageSize - 1);
    if (size > top || ((top - size) & ~(kPageSize - 1)) < aligned_lowest) {
        return Error::format(
            "initrd of {} bytes does not fit between the kernel's end {:#x} and {:#x} (the lowest of the kernel's "
            "initrd limit, the end of guest RAM below 4 GiB and the MMIO hole): give the guest more memory",
            size, lowest, top);
    }
    const GuestAddress address((top - size) & ~(kPageSize - 1));
    auto place = TRY(memory.slice(address, size).context_error("writing the initrd"));
    TRY(initrd.copy_to(place));
    return InitrdPlacement{address, size};
}

}  // namespace skiff::boot
