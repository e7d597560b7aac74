// Interrupts of a virtio-pci device: MSI-X vectors chosen by the driver per
// queue and for configuration changes, plus the ISR status byte.
//
// The state here is shared between the transport (vCPU threads) and the
// device's data path (event-loop thread) and is made of atomics only: the
// data path must never wait for the transport, because the transport waits
// for the data path when it resets the device.
#pragma once

#include "devices/pci/msix.h"
#include "devices/virtio/virtio_device.h"

#include <atomic>
#include <cstdint>
#include <memory>

namespace skiff::virtio {

inline constexpr uint16_t kNoVector = 0xffff;

namespace isr {
inline constexpr uint8_t kQueue = 1;
inline constexpr uint8_t kConfig = 2;
}  // namespace isr

struct VirtioPciSharedState {
    VirtioPciSharedState(std::shared_ptr<pci::Msix> msix_vectors, size_t queues);

    std::shared_ptr<pci::Msix> msix;
    std::atomic<uint8_t> status{0};
    std::atomic<uint8_t> isr{0};
    std::atomic<uint8_t> config_generation{0};
    std::atomic<uint16_t> config_vector{kNoVector};
    size_t queue_count;
    std::unique_ptr<std::atomic<uint16_t>[]> queue_vectors;
    // Bumped at each device reset; a needs_reset() from before it is stale.
    std::atomic<uint32_t> reset_count{0};

    [[nodiscard]] uint16_t queue_vector(uint16_t queue) const {
        return queue < queue_count ? queue_vectors[queue].load() : kNoVector;
    }
};

class VirtioPciInterrupt final : public VirtioInterrupt {
public:
    explicit VirtioPciInterrupt(std::shared_ptr<VirtioPciSharedState> state) : state_(std::move(state)) {}

    // Fires the queue's vector (pending if masked, nothing with
    // NO_VECTOR) and sets ISR bit 0.
    void signal_queue(uint16_t queue_index) override;
    // Bumps config_generation, sets ISR bit 1 and fires msix_config.
    void signal_config() override;
    // The queue's vector eventfd, or -1 with NO_VECTOR.
    [[nodiscard]] int queue_irqfd(uint16_t queue_index) const override;

private:
    std::shared_ptr<VirtioPciSharedState> state_;
};

}  // namespace skiff::virtio
