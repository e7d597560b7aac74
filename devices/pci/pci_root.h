// skiff's PCI root complex: bus 0 with a host bridge at 00:00.0 and up to
// 31 single-function devices in slots 1..31, plus the 32-bit MMIO window
// their BARs live in.
//
// MMIO: the root claims the whole window on the MMIO bus (PciMmioWindow) and
// sends each access to the device whose BAR, as the guest currently
// programmed it with memory decoding enabled, contains it. The root learns
// of every BAR move because every configuration write goes through it; it
// tells the device (PciDevice::bar_moved) so the device can move what the
// kernel does for it.
//
// Threads: configuration accesses take the root's lock exclusively, MMIO
// dispatch shares it, so an access never reaches a BAR that a concurrent
// configuration write has just moved away.
#pragma once

#include "boot/layout.h"
#include "devices/pci/pci_device.h"
#include "vmm/bus.h"
#include "vmm/result.h"

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <span>
#include <vector>

namespace skiff::pci {

inline constexpr uint8_t kSlotCount = 32;
inline constexpr uint8_t kHostBridgeSlot = 0;
// The host bridge's identity. Linux's pci_sanity_check accepts mechanism #1
// only if bus 0 has a host bridge (class 0x0600) or an Intel device.
inline constexpr uint16_t kHostBridgeVendorId = 0x8086;
inline constexpr uint16_t kHostBridgeDeviceId = 0x0d57;
inline constexpr uint32_t kHostBridgeClass = 0x060000;

struct MmioWindow {
    uint64_t start = layout::kPciMmioStart.value();
    uint64_t size = layout::kPciMmioSize;
};

class PciRoot final {
public:
    explicit PciRoot(MmioWindow window = {});

    // Puts `device` in the next free slot of bus 0 and places its BARs in
    // the window, each naturally aligned. Call before the vCPUs start.
    // Returns the slot. Fails when the bus or the window is full.
    [[nodiscard]] Result<uint8_t> add_device(std::shared_ptr<PciDevice> device);

    // Configuration access to bus 0: any offset below 256, 1 to 4 bytes.
    // Accesses crossing a dword are split. Absent devices and functions
    // other than 0 read as all ones and ignore writes.
    void config_read(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<uint8_t> data);
    void config_write(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<const uint8_t> data);

    // An access at guest-physical `address`. Returns false when no decoded
    // BAR holds all of it (reads then fill data with all ones).
    bool mmio_read(uint64_t address, std::span<uint8_t> data) const;
    bool mmio_write(uint64_t address, std::span<const uint8_t> data) const;

    [[nodiscard]] const MmioWindow& window() const { return window_; }
    [[nodiscard]] std::shared_ptr<PciDevice> device(uint8_t slot) const;

private:
    // One BAR the guest has placed in the window with decoding on.
    struct DecodedBar {
        uint64_t base;
        uint64_t size;
        PciDevice* device;
        uint8_t bar;
    };
    struct Slot {
        std::shared_ptr<PciDevice> device;
        // Per BAR index: where it is decoded, if anywhere.
        std::array<std::optional<uint64_t>, kBarCount> decoded{};
    };

    // Recomputes where `slot`'s BARs are decoded; tells the device about
    // each move and rebuilds decoded_. Called with the lock held
    // exclusively.
    void update_decoding(Slot& slot);
    void rebuild_decoded();
    [[nodiscard]] const DecodedBar* find(uint64_t address, size_t size) const;

    MmioWindow window_;
    uint64_t next_bar_address_;
    mutable std::shared_mutex mutex_;
    std::array<Slot, kSlotCount> slots_;
    std::vector<DecodedBar> decoded_;
};

// The root's MMIO window as one range on the MMIO bus. Register at
// root->window().start with length root->window().size.
class PciMmioWindow final : public BusDevice {
public:
    explicit PciMmioWindow(std::shared_ptr<PciRoot> root) : root_(std::move(root)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::shared_ptr<PciRoot> root_;
};

}  // namespace skiff::pci
