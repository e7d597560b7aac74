// A function on skiff's PCI bus as the root complex sees it: configuration
// space, memory BARs, and the accesses the guest makes to them. Emulated
// devices (virtio-pci) and passed-through ones (VFIO) both implement it.
//
// Threads: the root calls these from vCPU threads, several at once; a
// device serialises its own state. The root never calls a device while the
// device is calling the root.
#pragma once

#include "devices/pci/pci_config_space.h"

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace skiff::pci {

class PciDevice {
public:
    virtual ~PciDevice() = default;

    // Configuration space access: offset + data.size() <= 256, 1 to 4
    // bytes inside one dword (the root splits anything else). Reads may have
    // side effects (virtio's PCI configuration access capability).
    virtual void config_read(uint16_t offset, std::span<uint8_t> data) = 0;
    virtual void config_write(uint16_t offset, std::span<const uint8_t> data) = 0;

    // The device's memory BARs with their addresses as the guest (or
    // assign_bar) last programmed them.
    [[nodiscard]] virtual std::vector<Bar> bars() const = 0;
    // skiff's initial placement of BAR `bar`, before the guest runs.
    virtual void assign_bar(uint8_t bar, uint64_t address) = 0;

    // An access inside BAR `bar` at `offset` (offset + size <= the BAR's
    // size); data is 1, 2, 4 or 8 bytes. Reads fill all of data.
    virtual void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) = 0;

    // Where BAR `bar` is decoded changed: from old_address to new_address,
    // std::nullopt meaning not decoded (memory space disabled, or the BAR
    // outside the PCI window, as during sizing). Called by the root after
    // the configuration write that caused it; devices move what the kernel
    // handles for them (ioeventfds, mapped memory).
    virtual void bar_moved(uint8_t bar, std::optional<uint64_t> old_address, std::optional<uint64_t> new_address) {
        (void)bar;
        (void)old_address;
        (void)new_address;
    }

    // For logs: "virtio-net net0", ...
    [[nodiscard]] virtual std::string_view name() const = 0;
};

}  // namespace skiff::pci
