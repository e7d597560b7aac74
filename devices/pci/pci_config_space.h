// A type-0 PCI configuration header (256 bytes) as a guest sees it through
// configuration mechanism #1: per-bit write masks (read-only bits keep their
// value whatever the guest writes), memory BARs with the sizing protocol, and
// a capability list. Devices build their space once and then let the guest
// write to it; device-side setters bypass the masks.
//
// Not thread-safe: the owning device serialises accesses.
#pragma once

#include "vmm/result.h"

#include <array>
#include <cstdint>
#include <optional>
#include <span>

namespace skiff::pci {

inline constexpr uint64_t kConfigSpaceSize = 256;
inline constexpr uint8_t kBarCount = 6;

// Register offsets of the type-0 header (PCI Local Bus 3.0, 6.1).
namespace config {
inline constexpr uint16_t kVendorId = 0x00;
inline constexpr uint16_t kDeviceId = 0x02;
inline constexpr uint16_t kCommand = 0x04;
inline constexpr uint16_t kStatus = 0x06;
inline constexpr uint16_t kRevisionId = 0x08;
inline constexpr uint16_t kClassCode = 0x09;  // 3 bytes: programming interface, subclass, base class
inline constexpr uint16_t kCacheLineSize = 0x0c;
inline constexpr uint16_t kLatencyTimer = 0x0d;
inline constexpr uint16_t kHeaderType = 0x0e;
inline constexpr uint16_t kBar0 = 0x10;
inline constexpr uint16_t kSubsystemVendorId = 0x2c;
inline constexpr uint16_t kSubsystemId = 0x2e;
inline constexpr uint16_t kCapabilitiesPointer = 0x34;
inline constexpr uint16_t kInterruptLine = 0x3c;
inline constexpr uint16_t kInterruptPin = 0x3d;
// Capabilities go after the header.
inline constexpr uint16_t kFirstCapability = 0x40;
}  // namespace config

namespace command {
inline constexpr uint16_t kIoSpace = 1 << 0;
inline constexpr uint16_t kMemorySpace = 1 << 1;
inline constexpr uint16_t kBusMaster = 1 << 2;
inline constexpr uint16_t kInterruptDisable = 1 << 10;
}  // namespace command

namespace status {
inline constexpr uint16_t kCapabilitiesList = 1 << 4;
}  // namespace status

namespace capability_id {
inline constexpr uint8_t kVendorSpecific = 0x09;
inline constexpr uint8_t kMsix = 0x11;
}  // namespace capability_id

// Low bits of a memory BAR (read-only).
namespace bar_flags {
inline constexpr uint32_t kMemory64 = 0x4;  // type 10b in bits 2:1
inline constexpr uint32_t kPrefetchable = 0x8;
inline constexpr uint32_t kMask = 0xf;
}  // namespace bar_flags

// Who the device says it is.
struct Identity {
    uint16_t vendor_id = 0;
    uint16_t device_id = 0;
    uint8_t revision = 0;
    uint32_t class_code = 0;  // base class << 16 | subclass << 8 | programming interface
    uint16_t subsystem_vendor_id = 0;
    uint16_t subsystem_id = 0;
};

enum class BarWidth { Bits32, Bits64 };

// A memory BAR: its register index (a 64-bit BAR also uses index + 1), size
// (a power of two, at least 16 bytes) and where the guest put it.
struct Bar {
    uint8_t index = 0;
    uint64_t size = 0;
    BarWidth width = BarWidth::Bits32;
    bool prefetchable = false;
    uint64_t address = 0;
};

class ConfigSpace final {
public:
    explicit ConfigSpace(const Identity& identity);

    // Guest accesses: any offset and length. Bytes beyond the 256 read as
    // zero and ignore writes; writes change only writable bits.
    void read(uint64_t offset, std::span<uint8_t> data) const;
    void write(uint64_t offset, std::span<const uint8_t> data);

    // Device-side accessors (no masks). Out-of-range offsets read zero and
    // ignore writes.
    [[nodiscard]] uint8_t read8(uint64_t offset) const;
    [[nodiscard]] uint16_t read16(uint64_t offset) const;
    [[nodiscard]] uint32_t read32(uint64_t offset) const;
    void set8(uint64_t offset, uint8_t value);
    void set16(uint64_t offset, uint16_t value);
    void set32(uint64_t offset, uint32_t value);
    // Makes the bits set in `mask` writable by the guest (clears the rest of
    // those bytes' writability).
    void set_write_mask8(uint64_t offset, uint8_t mask);
    void set_write_mask16(uint64_t offset, uint16_t mask);
    void set_write_mask32(uint64_t offset, uint32_t mask);

    [[nodiscard]] uint16_t command() const { return read16(config::kCommand); }

    // Declares a memory BAR (size a power of two, >= 16; a 32-bit BAR at
    // most 2 GiB; a 64-bit BAR takes index and index + 1, so index <= 4).
    [[nodiscard]] Result<void> add_bar(uint8_t index, uint64_t size, BarWidth width, bool prefetchable);
    // The BAR declared at `index` (not the upper half of a 64-bit one), with
    // its current address as the guest programmed it.
    [[nodiscard]] std::optional<Bar> bar(uint8_t index) const;
    // Sets a BAR's address (skiff's initial assignment); bits below the
    // size are dropped.
    void set_bar_address(uint8_t index, uint64_t address);

    // Appends a capability. `body` starts with the capability id; its
    // second byte (the next pointer) is filled in here. `write_mask`, if
    // not empty, has body's length and gives the guest-writable bits.
    // Returns the capability's offset; fails when the space is full.
    [[nodiscard]] Result<uint8_t> add_capability(std::span<const uint8_t> body,
                                                 std::span<const uint8_t> write_mask = {});

private:
    std::array<uint8_t, kConfigSpaceSize> bytes_{};
    std::array<uint8_t, kConfigSpaceSize> write_mask_{};
    std::array<std::optional<Bar>, kBarCount> bars_{};  // address unused here: read from bytes_
    uint16_t next_capability_ = config::kFirstCapability;
    uint8_t last_capability_ = 0;
};

}  // namespace skiff::pci
