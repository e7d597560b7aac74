#include "devices/legacy/ps2_keyboard.h"

#include <array>

namespace skiff {

namespace {
constexpr uint8_t kAcknowledge = 0xfa;
constexpr uint8_t kSelfTestPassed = 0xaa;
// Commands (host to keyboard).
constexpr uint8_t kSetLeds = 0xed;
constexpr uint8_t kEcho = 0xee;
constexpr uint8_t kScanCodeSet = 0xf0;  // parameter 0: report the set in use
constexpr uint8_t kIdentify = 0xf2;
constexpr uint8_t kTypematicRate = 0xf3;
constexpr uint8_t kReset = 0xff;
// An MF2 keyboard's identity.
constexpr std::array<uint8_t, 2> kMf2Id = {0xab, 0x83};
constexpr uint8_t kScanCodeSet2 = 0x02;

// Ctrl down, Alt down, Delete down (extended key), then the releases.
// Set 2 marks a release with an F0 prefix, set 1 with bit 7.
constexpr std::array<uint8_t, 11> kCtrlAltDelSet2 = {0x14, 0x11, 0xe0, 0x71, 0xe0, 0xf0,
                                                     0x71, 0xf0, 0x11, 0xf0, 0x14};
constexpr std::array<uint8_t, 8> kCtrlAltDelSet1 = {0x1d, 0x38, 0xe0, 0x53, 0xe0, 0xd3, 0xb8, 0x9d};
}  // namespace

std::vector<uint8_t> Ps2Keyboard::receive(uint8_t byte) {
    if (awaiting_parameter_ != 0) {
        uint8_t command = awaiting_parameter_;
        awaiting_parameter_ = 0;
        // Set changes are acknowledged but not made: the keyboard stays in
        // set 2, which Linux uses (translated to set 1 by the controller).
        if (command == kScanCodeSet && byte == 0) {
            return {kAcknowledge, kScanCodeSet2};
        }
        return {kAcknowledge};
    }
    switch (byte) {
        case kSetLeds:
        case kScanCodeSet:
        case kTypematicRate:
            awaiting_parameter_ = byte;
            return {kAcknowledge};
        case kEcho:
            return {kEcho};
        case kIdentify:
            return {kAcknowledge, kMf2Id[0], kMf2Id[1]};
        case kReset:
            return {kAcknowledge, kSelfTestPassed};
        default:
            return {kAcknowledge};  // enable, disable, defaults, set-3 key modes
    }
}

std::span<const uint8_t> Ps2Keyboard::ctrl_alt_del(bool translated) {
    if (translated) {
        return kCtrlAltDelSet1;
    }
    return kCtrlAltDelSet2;
}

}  // namespace skiff
