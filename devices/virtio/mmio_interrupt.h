// VirtioInterrupt for virtio-mmio: the InterruptStatus bits the driver reads
// and acknowledges, plus one edge on the device's interrupt line per signal,
// delivered by writing an eventfd that the VMM registers as a KVM irqfd.
//
// Signals come from the data-path thread, acknowledgements and reads from
// vCPU threads: the status is an atomic, and nothing here takes a lock.
#pragma once

#include "devices/virtio/virtio_device.h"
#include "vmm/event_fd.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace skiff::virtio {

class MmioInterrupt final : public VirtioInterrupt {
public:
    static Result<std::shared_ptr<MmioInterrupt>> create();

    // Sets InterruptStatus bit 0 (used buffer), then triggers the line.
    void signal_queue(uint16_t queue_index) override;
    // Advances ConfigGeneration, sets bit 1 (configuration change), then
    // triggers the line.
    void signal_config() override;

    [[nodiscard]] uint32_t status() const { return status_.load(); }
    // InterruptACK: clears `bits`.
    void acknowledge(uint32_t bits) { status_.fetch_and(~bits); }
    // Device reset: no interrupt pending.
    void clear() { status_.store(0); }
    [[nodiscard]] uint32_t config_generation() const { return config_generation_.load(); }
    // The eventfd to register as an irqfd on the device's GSI.
    [[nodiscard]] int event_fd() const { return event_.fd(); }

private:
    explicit MmioInterrupt(EventFd event) : event_(std::move(event)) {}
    void raise(uint32_t bits);

    EventFd event_;
    std::atomic<uint32_t> status_{0};
    std::atomic<uint32_t> config_generation_{0};
};

}  // namespace skiff::virtio
