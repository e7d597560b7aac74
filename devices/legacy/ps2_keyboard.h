// The keyboard behind the i8042's first port, as far as a guest driver can
// tell: it answers the commands Linux's atkbd sends while probing (identify,
// LEDs, typematic rate, enable) and produces the bytes of a key combination.
// It has no keys of its own beyond that: the host "presses" Ctrl-Alt-Del.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace skiff {

class Ps2Keyboard final {
public:
    // The keyboard's answer to one byte the guest sent it (a command, or the
    // parameter of the previous one), in the order it sends them.
    [[nodiscard]] std::vector<uint8_t> receive(uint8_t byte);

    // Ctrl, Alt and Delete pressed, then released in reverse order. In scan
    // code set 2 (what the keyboard sends), or set 1 (what the guest reads
    // from a controller that translates, the PC default).
    [[nodiscard]] static std::span<const uint8_t> ctrl_alt_del(bool translated);

private:
    uint8_t awaiting_parameter_ = 0;  // the command whose parameter comes next, or 0
};

}  // namespace skiff
