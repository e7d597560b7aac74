// An address space of device ranges: one instance for port I/O, one for
// MMIO. vCPU exits are dispatched to the device owning the address, with the
// offset into its range. The bus is built before the vCPUs start and is
// read-only afterwards, so dispatch needs no lock; devices lock themselves.
#pragma once

#include "vmm/result.h"

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace skiff {

class BusDevice {
public:
    virtual ~BusDevice() = default;
    // `data` is 1, 2, 4 or 8 bytes. Reads fill all of it.
    virtual void read(uint64_t offset, std::span<uint8_t> data) = 0;
    virtual void write(uint64_t offset, std::span<const uint8_t> data) = 0;
};

class Bus final {
public:
    explicit Bus(std::string name) : name_(std::move(name)) {}

    // Claims [base, base + length) for device. Fails on an empty range,
    // overflow, or overlap with a range already claimed.
    [[nodiscard]] Result<void> insert(std::shared_ptr<BusDevice> device, uint64_t base, uint64_t length);

    // Dispatch; false when no device claims the address (the caller decides
    // what an unclaimed access means: reads see all-ones).
    bool read(uint64_t address, std::span<uint8_t> data) const;
    bool write(uint64_t address, std::span<const uint8_t> data) const;

    [[nodiscard]] const std::string& name() const { return name_; }

private:
    struct Range {
        uint64_t base;
        uint64_t length;
        std::shared_ptr<BusDevice> device;
    };
    const Range* find(uint64_t address, size_t access_size) const;

    std::string name_;
    std::vector<Range> ranges_;  // sorted by base, non-overlapping
};

}  // namespace skiff
