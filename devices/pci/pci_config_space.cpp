#include "devices/pci/pci_config_space.h"

#include <bit>

namespace skiff::pci {

namespace {
// Smallest memory BAR the specification allows.
constexpr uint64_t kMinimumBarSize = 16;
}  // namespace

ConfigSpace::ConfigSpace(const Identity& identity) {
    set16(config::kVendorId, identity.vendor_id);
    set16(config::kDeviceId, identity.device_id);
    set8(config::kRevisionId, identity.revision);
    set8(config::kClassCode, static_cast<uint8_t>(identity.class_code));
    set16(config::kClassCode + 1, static_cast<uint16_t>(identity.class_code >> 8));
    set16(config::kSubsystemVendorId, identity.subsystem_vendor_id);
    set16(config::kSubsystemId, identity.subsystem_id);
    // What drivers and firmware may change in any header: decoding and
    // bus mastering, the INTx disable bit, and the scratch registers
    // (cache line size, latency timer, interrupt line) that Linux writes.
    set_write_mask16(config::kCommand, command::kMemorySpace | command::kBusMaster | command::kInterruptDisable);
    set_write_mask8(config::kCacheLineSize, 0xff);
    set_write_mask8(config::kLatencyTimer, 0xff);
    set_write_mask8(config::kInterruptLine, 0xff);
}

void ConfigSpace::read(uint64_t offset, std::span<uint8_t> data) const {
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = read8(offset + i);
    }
}

void ConfigSpace::write(uint64_t offset, std::span<const uint8_t> data) {
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        if (at >= kConfigSpaceSize || at < offset) {
            return;
        }
        uint8_t mask = write_mask_[at];
        bytes_[at] = static_cast<uint8_t>((bytes_[at] & ~mask) | (data[i] & mask));
    }
}

uint8_t ConfigSpace::read8(uint64_t offset) const { return offset < kConfigSpaceSize ? bytes_[offset] : 0; }

uint16_t ConfigSpace::read16(uint64_t offset) const {
    return static_cast<uint16_t>(read8(offset) | (read8(offset + 1) << 8));
}

uint32_t ConfigSpace::read32(uint64_t offset) const {
    return uint32_t{read16(offset)} | (uint32_t{read16(offset + 2)} << 16);
}

void ConfigSpace::set8(uint64_t offset, uint8_t value) {
    if (offset < kConfigSpaceSize) {
        bytes_[offset] = value;
    }
}

void ConfigSpace::set16(uint64_t offset, uint16_t value) {
    set8(offset, static_cast<uint8_t>(value));
    set8(offset + 1, static_cast<uint8_t>(value >> 8));
}

void ConfigSpace::set32(uint64_t offset, uint32_t value) {
    set16(offset, static_cast<uint16_t>(value));
    set16(offset + 2, static_cast<uint16_t>(value >> 16));
}

void ConfigSpace::set_write_mask8(uint64_t offset, uint8_t mask) {
    if (offset < kConfigSpaceSize) {
        write_mask_[offset] = mask;
    }
}

void ConfigSpace::set_write_mask16(uint64_t offset, uint16_t mask) {
    set_write_mask8(offset, static_cast<uint8_t>(mask));
    set_write_mask8(offset + 1, static_cast<uint8_t>(mask >> 8));
}

void ConfigSpace::set_write_mask32(uint64_t offset, uint32_t mask) {
    set_write_mask16(offset, static_cast<uint16_t>(mask));
    set_write_mask16(offset + 2, static_cast<uint16_t>(mask >> 16));
}

Result<void> ConfigSpace::add_bar(uint8_t index, uint64_t size, BarWidth width, bool prefetchable) {
    bool wide = width == BarWidth::Bits64;
    if (index >= kBarCount || (wide && index + 1 >= kBarCount)) {
        return Error::format("BAR {} does not exist{}", index, wide ? " for a 64-bit BAR" : "");
    }
    if (bars_[index] || (wide && bars_[index + 1]) || (index > 0 && bars_[index - 1] &&
                                                      bars_[index - 1]->width == BarWidth::Bits64)) {
        return Error::format("BAR {} is already in use", index);
    }
    if (!std::has_single_bit(size) || size < kMinimumBarSize || (!wide && size > (uint64_t{1} << 31))) {
        return Error::format("BAR {}: size {:#x} is not a power of two between 16 bytes and {}", index, size,
                             wide ? "2^63" : "2 GiB");
    }
    bars_[index] = Bar{.index = index, .size = size, .width = width, .prefetchable = prefetchable, .address = 0};
    uint32_t flags = (wide ? bar_flags::kMemory64 : 0) | (prefetchable ? bar_flags::kPrefetchable : 0);
    uint64_t address_mask = ~(size - 1);
    uint64_t offset = config::kBar0 + 4 * uint64_t{index};
    set32(offset, flags);
    // Only the address bits at or above the size are writable: a guest
    // writing all ones reads back the size mask (the sizing protocol).
    set_write_mask32(offset, static_cast<uint32_t>(address_mask) & ~bar_flags::kMask);
    if (wide) {
        set32(offset + 4, 0);
        set_write_mask32(offset + 4, static_cast<uint32_t>(address_mask >> 32));
    }
    return {};
}

std::optional<Bar> ConfigSpace::bar(uint8_t index) const {
    if (index >= kBarCount || !bars_[index]) {
        return std::nullopt;
    }
    Bar result = *bars_[index];
    uint64_t offset = config::kBar0 + 4 * uint64_t{index};
    result.address = read32(offset) & ~uint64_t{bar_flags::kMask};
    if (result.width == BarWidth::Bits64) {
        result.address |= uint64_t{read32(offset + 4)} << 32;
    }
    return result;
}

void ConfigSpace::set_bar_address(uint8_t index, uint64_t address) {
    if (index >= kBarCount || !bars_[index]) {
        return;
    }
    const Bar& declared = *bars_[index];
    uint64_t offset = config::kBar0 + 4 * uint64_t{index};
    uint64_t value = address & ~(declared.size - 1);
    set32(offset, static_cast<uint32_t>(value & ~uint64_t{bar_flags::kMask}) | (read32(offset) & bar_flags::kMask));
    if (declared.width == BarWidth::Bits64) {
        set32(offset + 4, static_cast<uint32_t>(value >> 32));
    }
}

Result<uint8_t> ConfigSpace::add_capability(std::span<const uint8_t> body, std::span<const uint8_t> write_mask) {
    if (body.size() < 2) {
        return Error{"a capability needs at least its id and next pointer"};
    }
    if (!write_mask.empty() && write_mask.size() != body.size()) {
        return Error{"capability write mask and body differ in length"};
    }
    uint64_t offset = next_capability_;
    if (offset + body.size() > kConfigSpaceSize) {
        return Error::format("no room for a {}-byte capability at {:#x}", body.size(), offset);
    }
    for (size_t i = 0; i < body.size(); ++i) {
        set8(offset + i, body[i]);
        set_write_mask8(offset + i, write_mask.empty() ? 0 : write_mask[i]);
    }
    set8(offset + 1, 0);
    set_write_mask8(offset + 1, 0);
    if (last_capability_ == 0) {
        set8(config::kCapabilitiesPointer, static_cast<uint8_t>(offset));
    } else {
        set8(last_capability_ + 1u, static_cast<uint8_t>(offset));
    }
    set16(config::kStatus, read16(config::kStatus) | status::kCapabilitiesList);
    last_capability_ = static_cast<uint8_t>(offset);
    // Capabilities are dword-aligned (Linux masks the low pointer bits).
    next_capability_ = static_cast<uint16_t>((offset + body.size() + 3) & ~uint64_t{3});
    return static_cast<uint8_t>(offset);
}

}  // namespace skiff::pci
