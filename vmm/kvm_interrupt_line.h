// An InterruptLine on the in-kernel irqchip (PIC + IOAPIC), set with
// KVM_IRQ_LINE. Used by the legacy devices; virtio uses irqfd instead.
#pragma once

#include "devices/interrupt_line.h"
#include "vmm/kvm.h"

#include <spdlog/spdlog.h>

namespace skiff {

class KvmInterruptLine final : public InterruptLine {
public:
    KvmInterruptLine(const VmFd& vm, uint32_t irq) : vm_(vm), irq_(irq) {}

    void set_level(bool asserted) override {
        auto status = vm_.set_irq_line(irq_, asserted);
        if (!status.ok()) {
            spdlog::warn("IRQ {}: {}", irq_, status.error().message);
        }
    }

private:
    const VmFd& vm_;
    uint32_t irq_;
};

}  // namespace skiff
