// 32-bit register access to a BusDevice, as a driver's MMIO reads and
// writes reach it (little-endian bytes).
#pragma once

#include "vmm/bus.h"

#include <array>
#include <cstdint>
#include <cstring>

namespace skiff::test {

inline uint32_t mmio_read(BusDevice& device, uint64_t offset) {
    std::array<uint8_t, 4> bytes{};
    device.read(offset, bytes);
    uint32_t value = 0;
    std::memcpy(&value, bytes.data(), 4);
    return value;
}

inline void mmio_write(BusDevice& device, uint64_t offset, uint32_t value) {
    std::array<uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, 4);
    device.write(offset, bytes);
}

}  // namespace skiff::test
