#include "devices/pci/pci_config_io.h"

#include <algorithm>

namespace skiff::pci {

namespace {

constexpr uint64_t kDataOffset = 4;  // 0xcfc
constexpr uint32_t kEnable = 1u << 31;
// Bus, device, function and dword-aligned register; the reserved bits 30:24
// and 1:0 read as zero.
constexpr uint32_t kAddressMask = kEnable | 0x00fffffc;

struct ConfigAddress {
    uint8_t bus;
    uint8_t slot;
    uint8_t function;
    uint16_t register_offset;
};

ConfigAddress decode(uint32_t address) {
    return ConfigAddress{.bus = static_cast<uint8_t>(address >> 16),
                         .slot = static_cast<uint8_t>((address >> 11) & 0x1f),
                         .function = static_cast<uint8_t>((address >> 8) & 0x7),
                         .register_offset = static_cast<uint16_t>(address & 0xfc)};
}

bool is_address_register(uint64_t offset, size_t size) { return offset == 0 && size == 4; }

}  // namespace

void PciConfigIo::read(uint64_t offset, std::span<uint8_t> data) {
    std::ranges::fill(data, 0xff);
    std::lock_guard lock(mutex_);
    if (is_address_register(offset, data.size())) {
        for (size_t i = 0; i < 4; ++i) {
            data[i] = static_cast<uint8_t>(address_ >> (8 * i));
        }
        return;
    }
    if (offset < kDataOffset || offset >= kDataOffset + 4 || (address_ & kEnable) == 0) {
        return;
    }
    // A data access that runs past 0xcff is cut at the dword's end; the
    // rest reads all ones.
    uint64_t byte = offset - kDataOffset;
    size_t size = std::min<size_t>(data.size(), 4 - byte);
    ConfigAddress target = decode(address_);
    root_->config_read(target.bus, target.slot, target.function, static_cast<uint16_t>(target.register_offset + byte),
                       data.first(size));
}

void PciConfigIo::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    if (is_address_register(offset, data.size())) {
        uint32_t value = 0;
        for (size_t i = 0; i < 4; ++i) {
            value |= uint32_t{data[i]} << (8 * i);
        }
        address_ = value & kAddressMask;
        return;
    }
    if (offset < kDataOffset || offset >= kDataOffset + 4 || (address_ & kEnable) == 0) {
        return;
    }
    uint64_t byte = offset - kDataOffset;
    size_t size = std::min<size_t>(data.size(), 4 - byte);
    ConfigAddress target = decode(address_);
    root_->config_write(target.bus, target.slot, target.function, static_cast<uint16_t>(target.register_offset + byte),
                        data.first(size));
}

}  // namespace skiff::pci
