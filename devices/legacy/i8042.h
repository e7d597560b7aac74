// The few i8042 keyboard-controller behaviours an x86 kernel relies on: its
// probe (self-test, command byte) and the reset line (command 0xfe), which
// Linux pulses on reboot with `reboot=k`. A reset ends the VM cleanly.
#pragma once

#include "vmm/bus.h"

#include <cstdint>
#include <functional>
#include <mutex>

namespace skiff {

class I8042 final : public BusDevice {
public:
    // Claims ports 0x60..0x64; offset 0 is the data port, offset 4 the
    // status/command port.
    static constexpr uint64_t kPortSpan = 5;

    explicit I8042(std::function<void()> on_reset) : on_reset_(std::move(on_reset)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

private:
    void command(uint8_t value);
    void push_output(uint8_t value);

    std::function<void()> on_reset_;
    std::mutex mutex_;
    uint8_t command_byte_ = 0x45;  // translate, system flag, keyboard interrupt
    uint8_t output_ = 0;
    bool output_full_ = false;
    bool expecting_command_byte_ = false;
};

}  // namespace skiff
