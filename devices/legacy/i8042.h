// The i8042 keyboard controller, as far as an x86 kernel relies on it: its
// probe (self-test, command byte), the reset line (command 0xfe, which Linux
// pulses on reboot with `reboot=k`; a reset ends the VM cleanly), and a
// keyboard on its first port (ps2_keyboard.h) through which the host sends
// Ctrl-Alt-Del: scan codes in the output buffer, IRQ 1 pulsed for each.
// No second (mouse) port.
#pragma once

#include "devices/interrupt_line.h"
#include "devices/legacy/ps2_keyboard.h"
#include "vmm/bus.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>

namespace skiff {

class I8042 final : public BusDevice {
public:
    // Claims ports 0x60..0x64; offset 0 is the data port, offset 4 the
    // status/command port.
    static constexpr uint64_t kPortSpan = 5;
    // Bytes the controller holds for the guest to read.
    static constexpr size_t kOutputCapacity = 16;

    // `keyboard_interrupt` (IRQ 1) may be null: no interrupts, the guest polls.
    explicit I8042(std::function<void()> on_reset, std::shared_ptr<InterruptLine> keyboard_interrupt = nullptr)
        : on_reset_(std::move(on_reset)), keyboard_interrupt_(std::move(keyboard_interrupt)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Queues the keyboard's bytes for Ctrl-Alt-Del (pressed and released)
    // and interrupts the guest. False, and nothing queued, when the output
    // buffer lacks room (the guest is not reading its keyboard).
    [[nodiscard]] bool press_ctrl_alt_del();

private:
    void command(uint8_t value);
    void command_parameter(uint8_t value);
    // A controller answer: replaces whatever is waiting, no interrupt.
    void answer(uint8_t value);
    // Bytes from the keyboard, then an interrupt if the guest enabled it.
    void push_from_keyboard(std::span<const uint8_t> bytes);
    void pulse_interrupt();
    [[nodiscard]] uint8_t status() const;

    std::function<void()> on_reset_;
    std::shared_ptr<InterruptLine> keyboard_interrupt_;
    std::mutex mutex_;
    Ps2Keyboard keyboard_;
    std::deque<uint8_t> output_;
    uint8_t command_byte_ = 0x45;  // translate, system flag, keyboard interrupt
    uint8_t output_port_ = 0x01;   // bit 0: the reset line, not asserted
    uint8_t awaiting_parameter_ = 0;  // the controller command whose parameter comes next, or 0
    bool last_write_was_command_ = false;
};

}  // namespace skiff
