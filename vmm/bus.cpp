#include "vmm/bus.h"

#include <algorithm>
#include <cstring>

namespace skiff {

Result<void> Bus::insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t length) {
    uint64_t end = 0;
    if (length == 0 || __builtin_add_overflow(base, length, &end)) {
        return Error::format("{} bus: invalid range {:#x}+{:#x}", name_, base, length);
    }
    auto position = std::lower_bound(ranges_.begin(), ranges_.end(), base,
                                     [](const Range& range, uint64_t value) { return range.base < value; });
    if (position != ranges_.end() && position->base < end) {
        return Error::format("{} bus: range {:#x}+{:#x} overlaps {:#x}+{:#x}", name_, base, length,
                             position->base, position->length);
    }
    if (position != ranges_.begin()) {
        const Range& previous = *std::prev(position);
        if (previous.base + previous.length > base) {
            return Error::format("{} bus: range {:#x}+{:#x} overlaps {:#x}+{:#x}", name_, base, length,
                                 previous.base, previous.length);
        }
    }
    ranges_.insert(position, Range{base, length, std::move(device)});
    return {};
}

const Bus::Range* Bus::find(uint64_t address, size_t access_size) const {
    auto position = std::upper_bound(ranges_.begin(), ranges_.end(), address,
                                     [](uint64_t value, const Range& range) { return value < range.base; });
    if (position == ranges_.begin()) {
        return nullptr;
    }
    const Range& range = *std::prev(position);
    uint64_t offset = address - range.base;
    // The whole access must lie inside the range.
    if (offset >= range.length || access_size > range.length - offset) {
        return nullptr;
    }
    return &range;
}

bool Bus::read(uint64_t address, std::span<uint8_t> data) const {
    const Range* range = find(address, data.size());
    if (range == nullptr) {
        std::memset(data.data(), 0xff, data.size());
        return false;
    }
    range->device->read(address - range->base, data);
    return true;
}

bool Bus::write(uint64_t address, std::span<const uint8_t> data) const {
    const Range* range = find(address, data.size());
    if (range == nullptr) {
        return false;
    }
    range->device->write(address - range->base, data);
    return true;
}

}  // namespace skiff
