// Configuration mechanism #1 (PCI Local Bus 3.0, 3.2.2.3.2) on ports
// 0xcf8..0xcff, in front of a PciRoot.
#pragma once

#include "devices/pci/pci_root.h"
#include "vmm/bus.h"

#include <cstdint>
#include <memory>
#include <mutex>
#include <span>

namespace skiff::pci {

// The address register is a dword at 0xcf8 (enable bit 31, bus, device,
// function, register); data is at 0xcfc..0xcff in bytes, words or dwords.
// Other accesses to 0xcf8..0xcfb (a byte at 0xcf9 is the chipset reset
// register on real hardware) read all ones and are ignored. Register on the
// I/O bus at kConfigAddressPort with length kConfigPortCount.
inline constexpr uint16_t kConfigAddressPort = 0xcf8;
inline constexpr uint16_t kConfigPortCount = 8;

class PciConfigIo final : public BusDevice {
public:
    explicit PciConfigIo(std::shared_ptr<PciRoot> root) : root_(std::move(root)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::shared_ptr<PciRoot> root_;
    std::mutex mutex_;  // keeps the address and the data access together
    uint32_t address_ = 0;
};

}  // namespace skiff::pci
