// A device's view of one interrupt line. The device says whether it wants
// the line asserted; the VMM maps that onto KVM (an IRQ line, an irqfd) or a
// test fake. Devices never talk to KVM themselves.
#pragma once

namespace skiff {

class InterruptLine {
public:
    virtual ~InterruptLine() = default;
    virtual void set_level(bool asserted) = 0;
};

}  // namespace skiff
