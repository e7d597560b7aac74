// The i8042 keyboard controller, as far as an x86 kernel relies on it: its
// probe (self-test, command byte), the reset line (command 0xfe, which Linux
// pulses on reboot with `reboot=k`; a reset ends the VM cleanly), and a
// keyboard on its first port (ps2_keyboard.h) through which the host sends
// Ctrl-Alt-Del: scan codes in the output buffer, IRQ 1 pulsed for each.
// The second (mouse) port exists, with nothing plugged in: its loopback
// (0xd3) answers on IRQ 12, as Linux's i8042 checks before it takes the
// port, and bytes sent to the absent mouse (0xd4) time out.
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

    // The interrupt lines (IRQ 1 and 12) may be null: the guest polls.
    explicit I8042(std::function<void()> on_reset, std::shared_ptr<InterruptLine> keyboard_interrupt = nullptr,
                   std::shared_ptr<InterruptLine> aux_interrupt = nullptr)
        : on_reset_(std::move(on_reset)),
          keyboard_interrupt_(std::move(keyboard_interrupt)),
          aux_interrupt_(std::move(aux_interrupt)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Queues the keyboard's bytes for Ctrl-Alt-Del (pressed and released)
    // and interrupts the guest. False, and nothing queued, when the output
    // buffer lacks room (the guest is not reading its keyboard).
    [[nodiscard]] bool press_ctrl_alt_del();

private:
    // A byte in the output buffer and the port it came from (status bits).
    struct OutputByte {
        uint8_t value;
        bool from_aux;
        bool timed_out;
    };

    void command(uint8_t value);
    void command_parameter(uint8_t value);
    // A controller answer: replaces whatever is waiting, no interrupt.
    void answer(uint8_t value);
    // Bytes from the keyboard, then an interrupt if the guest enabled it.
    void push_from_keyboard(std::span<const uint8_t> bytes);
    // A byte from the second port, then IRQ 12 if the guest enabled it.
    void push_from_aux(uint8_t value, bool timed_out);
    // Tells the guest the byte now at the front of the output buffer is there.
    void pulse_interrupt();
    [[nodiscard]] uint8_t status() const;

    std::function<void()> on_reset_;
    std::shared_ptr<InterruptLine> keyboard_interrupt_;
    std::shared_ptr<InterruptLine> aux_interrupt_;
    std::mutex mutex_;
    Ps2Keyboard keyboard_;
    std::deque<OutputByte> output_;
    // Translate, system flag, second port disabled, keyboard interrupt.
    uint8_t command_byte_ = 0x65;
    uint8_t output_port_ = 0x01;   // bit 0: the reset line, not asserted
    uint8_t awaiting_parameter_ = 0;  // the controller command whose parameter comes next, or 0
    bool last_write_was_command_ = false;
};

}  // namespace skiff
