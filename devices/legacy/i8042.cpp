#include "devices/legacy/i8042.h"

#include "boot/layout.h"

namespace skiff {

namespace {
constexpr uint64_t kDataOffset = 0;
constexpr uint64_t kCommandOffset = layout::kI8042CommandPort - layout::kI8042DataPort;
// Status register.
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kStatusLastWriteCommand = 0x08;
constexpr uint8_t kStatusNotInhibited = 0x10;  // keyboard not locked
constexpr uint8_t kStatusAuxData = 0x20;       // the output byte came from the second port
constexpr uint8_t kStatusTimeout = 0x40;
// Command byte.
constexpr uint8_t kCommandByteKeyboardInterrupt = 0x01;
constexpr uint8_t kCommandByteAuxInterrupt = 0x02;
constexpr uint8_t kCommandByteKeyboardDisabled = 0x10;
constexpr uint8_t kCommandByteAuxDisabled = 0x20;
constexpr uint8_t kCommandByteTranslate = 0x40;
// Controller commands.
constexpr uint8_t kReadCommandByte = 0x20;
constexpr uint8_t kWriteCommandByte = 0x60;
constexpr uint8_t kSelfTest = 0xaa;
constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kKeyboardInterfaceTest = 0xab;
constexpr uint8_t kDisableAux = 0xa7;
constexpr uint8_t kEnableAux = 0xa8;
constexpr uint8_t kAuxInterfaceTest = 0xa9;
constexpr uint8_t kDisableKeyboard = 0xad;
constexpr uint8_t kEnableKeyboard = 0xae;
constexpr uint8_t kReadOutputPort = 0xd0;
constexpr uint8_t kWriteOutputPort = 0xd1;
constexpr uint8_t kWriteKeyboardOutput = 0xd2;  // parameter: a byte "from the keyboard"
constexpr uint8_t kWriteAuxOutput = 0xd3;       // parameter: a byte "from the mouse" (loopback)
constexpr uint8_t kWriteToAux = 0xd4;           // parameter: a byte for the mouse
constexpr uint8_t kNoDeviceAnswer = 0xfe;       // what a port answers when nothing acknowledges
}  // namespace

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    uint8_t value = 0xff;
    if (offset == kDataOffset) {
        value = 0;
        if (!output_.empty()) {
            value = output_.front().value;
            output_.pop_front();
            // The next byte moves into the output register: tell the guest.
            if (!output_.empty()) {
                pulse_interrupt();
            }
        }
    } else if (offset == kCommandOffset) {
        value = status();
    }
    for (auto& byte : data) {
        byte = value;
    }
}

void I8042::write(uint64_t offset, std::span<const uint8_t> data) {
    if (data.empty()) {
        return;
    }
    bool reset = false;
    {
        std::lock_guard lock(mutex_);
        if (offset == kCommandOffset) {
            last_write_was_command_ = true;
            awaiting_parameter_ = 0;
            reset = data[0] == layout::kI8042ResetCommand;
            if (!reset) {
                command(data[0]);
            }
        } else if (offset == kDataOffset) {
            last_write_was_command_ = false;
            if (awaiting_parameter_ != 0) {
                command_parameter(data[0]);
            } else {
                // For the keyboard, which drops what it had not sent yet.
                output_.clear();
                push_from_keyboard(keyboard_.receive(data[0]));
            }
        }
    }
    // Outside the lock: the callback stops the VM.
    if (reset && on_reset_) {
        on_reset_();
    }
}

bool I8042::press_ctrl_alt_del() {
    std::lock_guard lock(mutex_);
    auto bytes = Ps2Keyboard::ctrl_alt_del((command_byte_ & kCommandByteTranslate) != 0);
    if (kOutputCapacity - output_.size() < bytes.size()) {
        return false;
    }
    push_from_keyboard(bytes);
    return true;
}

void I8042::command(uint8_t value) {
    switch (value) {
        case kReadCommandByte:
            answer(command_byte_);
            break;
        case kReadOutputPort:
            answer(output_port_);
            break;
        case kWriteCommandByte:
        case kWriteOutputPort:
        case kWriteKeyboardOutput:
        case kWriteAuxOutput:
        case kWriteToAux:
            awaiting_parameter_ = value;
            break;
        case kSelfTest:
            answer(kSelfTestPassed);
            break;
        case kKeyboardInterfaceTest:
        case kAuxInterfaceTest:
            answer(0x00);  // no error
            break;
        case kDisableAux:
            command_byte_ |= kCommandByteAuxDisabled;
            break;
        case kEnableAux:
            command_byte_ &= static_cast<uint8_t>(~kCommandByteAuxDisabled);
            break;
        case kDisableKeyboard:
            command_byte_ |= kCommandByteKeyboardDisabled;
            break;
        case kEnableKeyboard:
            command_byte_ &= static_cast<uint8_t>(~kCommandByteKeyboardDisabled);
            break;
        default:
            break;  // commands of real controllers no guest of ours needs
    }
}

void I8042::command_parameter(uint8_t value) {
    uint8_t pending = awaiting_parameter_;
    awaiting_parameter_ = 0;
    switch (pending) {
        case kWriteCommandByte:
            command_byte_ = value;
            break;
        case kWriteOutputPort:
            output_port_ = value;
            break;
        case kWriteKeyboardOutput:
            push_from_keyboard(std::span<const uint8_t>(&value, 1));
            break;
        case kWriteAuxOutput:
            push_from_aux(value, false);
            break;
        case kWriteToAux:
            push_from_aux(kNoDeviceAnswer, true);  // no mouse: the transfer times out
            break;
        default:
            break;
    }
}

void I8042::answer(uint8_t value) {
    output_.clear();
    output_.push_back({value, false, false});
}

// A byte that reaches the front of the output buffer is announced then; the
// ones behind it are announced as the guest reads (read()).
void I8042::push_from_keyboard(std::span<const uint8_t> bytes) {
    const bool was_empty = output_.empty();
    for (uint8_t byte : bytes) {
        if (output_.size() == kOutputCapacity) {
            break;
        }
        output_.push_back({byte, false, false});
    }
    if (was_empty && !output_.empty()) {
        pulse_interrupt();
    }
}

void I8042::push_from_aux(uint8_t value, bool timed_out) {
    if (output_.size() < kOutputCapacity) {
        output_.push_back({value, true, timed_out});
        if (output_.size() == 1) {
            pulse_interrupt();
        }
    }
}

void I8042::pulse_interrupt() {
    // IRQs 1 and 12 are edge-triggered (ISA): each pulse is one "byte ready",
    // on the line of the port the byte came from.
    const bool aux = output_.front().from_aux;
    const auto& line = aux ? aux_interrupt_ : keyboard_interrupt_;
    const uint8_t enabled = aux ? kCommandByteAuxInterrupt : kCommandByteKeyboardInterrupt;
    if (line && (command_byte_ & enabled) != 0) {
        line->set_level(true);
        line->set_level(false);
    }
}

uint8_t I8042::status() const {
    uint8_t value = kStatusSystemFlag | kStatusNotInhibited;
    if (!output_.empty()) {
        value |= kStatusOutputFull;
        value |= output_.front().from_aux ? kStatusAuxData : 0;
        value |= output_.front().timed_out ? kStatusTimeout : 0;
    }
    if (last_write_was_command_) {
        value |= kStatusLastWriteCommand;
    }
    return value;
}

}  // namespace skiff
