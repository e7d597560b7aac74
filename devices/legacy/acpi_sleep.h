// The sleep control and status registers of a hardware-reduced ACPI
// machine (ACPI 6.5, 4.8.3.7): two I/O ports the FADT names. A guest
// powers off by writing SLP_TYP (from the DSDT's \_S5 package) with SLP_EN
// to the control register; skiff then ends the VM, as a power button would.
#pragma once

#include "vmm/bus.h"

#include <cstdint>
#include <functional>

namespace skiff {

class AcpiSleep final : public BusDevice {
public:
    static constexpr uint64_t kControlOffset = 0;
    static constexpr uint64_t kStatusOffset = 1;
    static constexpr uint64_t kPortSpan = 2;
    // SLP_TYP for S5 (soft off); the DSDT's \_S5 package carries it.
    static constexpr uint8_t kSoftOffType = 5;

    explicit AcpiSleep(std::function<void()> power_off) : power_off_(std::move(power_off)) {}

    // Both registers read as 0: never a wake event to report.
    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    std::function<void()> power_off_;
};

}  // namespace skiff
