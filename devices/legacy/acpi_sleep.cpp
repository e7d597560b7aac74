#include "devices/legacy/acpi_sleep.h"

#include "vmm/log_limit.h"

namespace skiff {

namespace {

constexpr uint8_t kSleepEnable = 1u << 5;  // SLP_EN
constexpr unsigned kSleepTypeShift = 2;    // SLP_TYP, bits 2-4
constexpr uint8_t kSleepTypeMask = 0x7;

}  // namespace

void AcpiSleep::read(uint64_t /*offset*/, std::span<uint8_t> data) {
    for (auto& byte : data) {
        byte = 0;
    }
}

void AcpiSleep::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset != kControlOffset || data.empty() || (data[0] & kSleepEnable) == 0) {
        return;  // the status register's write-1-to-clear bits: nothing to clear
    }
    const auto type = static_cast<uint8_t>((data[0] >> kSleepTypeShift) & kSleepTypeMask);
    if (type != kSoftOffType) {
        SKIFF_WARN_LIMITED("ACPI: the guest asked for sleep type {}; only soft off (S5, type {}) is offered", type,
                           kSoftOffType);
        return;
    }
    power_off_();
}

}  // namespace skiff
