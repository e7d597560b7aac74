#include "devices/legacy/i8042.h"

#include "boot/layout.h"

namespace skiff {

namespace {
constexpr uint64_t kDataOffset = 0;
constexpr uint64_t kCommandOffset = layout::kI8042CommandPort - layout::kI8042DataPort;
constexpr uint8_t kStatusOutputFull = 0x01;
constexpr uint8_t kStatusSystemFlag = 0x04;
constexpr uint8_t kReadCommandByte = 0x20;
constexpr uint8_t kWriteCommandByte = 0x60;
constexpr uint8_t kSelfTest = 0xaa;
constexpr uint8_t kSelfTestPassed = 0x55;
constexpr uint8_t kInterfaceTest = 0xab;
}  // namespace

void I8042::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    uint8_t value = 0xff;
    if (offset == kDataOffset) {
        value = output_;
        output_full_ = false;
    } else if (offset == kCommandOffset) {
        value = static_cast<uint8_t>(kStatusSystemFlag | (output_full_ ? kStatusOutputFull : 0));
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
            reset = data[0] == layout::kI8042ResetCommand;
            if (!reset) {
                command(data[0]);
            }
        } else if (offset == kDataOffset && expecting_command_byte_) {
            command_byte_ = data[0];
            expecting_command_byte_ = false;
        }
    }
    // Outside the lock: the callback stops the VM.
    if (reset && on_reset_) {
        on_reset_();
    }
}

void I8042::command(uint8_t value) {
    switch (value) {
        case kReadCommandByte:
            push_output(command_byte_);
            break;
        case kWriteCommandByte:
            expecting_command_byte_ = true;
            break;
        case kSelfTest:
            push_output(kSelfTestPassed);
            break;
        case kInterfaceTest:
            push_output(0x00);
            break;
        default:
            break;  // enable/disable port commands: nothing to model
    }
}

void I8042::push_output(uint8_t value) {
    output_ = value;
    output_full_ = true;
}

}  // namespace skiff
