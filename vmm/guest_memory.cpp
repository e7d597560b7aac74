#include "vmm/guest_memory.h"

#include <algorithm>

namespace skiff {

namespace {
constexpr uint64_t kPageSize = 4096;
}

Result<GuestMemory> GuestMemory::create(const std::vector<RangeSpec>& ranges) {
    std::vector<RangeSpec> sorted = ranges;
    std::sort(sorted.begin(), sorted.end(),
              [](const RangeSpec& a, const RangeSpec& b) { return a.start < b.start; });
    GuestMemory memory;
    uint64_t previous_end = 0;
    for (const RangeSpec& range : sorted) {
        if (range.size == 0 || range.size % kPageSize != 0 || range.start.value() % kPageSize != 0) {
            return Error::format("guest memory range {:#x}+{:#x} is empty or not page-aligned",
                                 range.start.value(), range.size);
        }
        auto end = range.start.checked_add(range.size);
        if (!end) {
            return Error::format("guest memory range {:#x}+{:#x} overflows", range.start.value(),
                                 range.size);
        }
        if (!memory.regions_.empty() && range.start.value() < previous_end) {
            return Error::format("guest memory ranges overlap at {:#x}", range.start.value());
        }
        auto mapping = TRY(MemoryMapping::anonymous(range.size));
        memory.regions_.push_back(GuestRegion{range.start, range.size, mapping.data()});
        memory.mappings_.push_back(std::move(mapping));
        previous_end = end->value();
    }
    return memory;
}

bool GuestMemory::contains(GuestAddress address, uint64_t length) const {
    return slice(address, length).ok();
}

Result<std::span<std::byte>> GuestMemory::slice(GuestAddress address, uint64_t length) const {
    for (const GuestRegion& region : regions_) {
        if (address < region.start) {
            continue;
        }
        uint64_t offset = address.value() - region.start.value();
        if (offset > region.size) {
            continue;
        }
        // offset <= size, so size - offset cannot underflow.
        if (length > region.size - offset) {
            break;
        }
        return std::span<std::byte>(region.host + offset, length);
    }
    return Error::format("guest range {:#x}+{:#x} is outside guest memory", address.value(), length);
}

Result<void> GuestMemory::write(GuestAddress address, std::span<const std::byte> bytes) const {
    auto target = TRY(slice(address, bytes.size()));
    std::memcpy(target.data(), bytes.data(), bytes.size());
    return {};
}

Result<void> GuestMemory::read(GuestAddress address, std::span<std::byte> bytes) const {
    auto source = TRY(slice(address, bytes.size()));
    std::memcpy(bytes.data(), source.data(), bytes.size());
    return {};
}

Result<void> GuestMemory::fill(GuestAddress address, uint64_t length, std::byte value) const {
    auto target = TRY(slice(address, length));
    std::memset(target.data(), static_cast<int>(value), target.size());
    return {};
}

uint64_t GuestMemory::total_size() const {
    uint64_t total = 0;
    for (const GuestRegion& region : regions_) {
        total += region.size;
    }
    return total;
}

GuestAddress GuestMemory::end() const {
    return regions_.empty() ? GuestAddress(0) : GuestAddress(regions_.back().end());
}

}  // namespace skiff
