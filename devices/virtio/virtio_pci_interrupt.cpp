#include "devices/virtio/virtio_pci_interrupt.h"

namespace skiff::virtio {

VirtioPciSharedState::VirtioPciSharedState(std::shared_ptr<pci::Msix> msix_vectors, size_t queues)
    : msix(std::move(msix_vectors)), queue_count(queues), queue_vectors(new std::atomic<uint16_t>[queues]) {
    for (size_t i = 0; i < queues; ++i) {
        queue_vectors[i].store(kNoVector);
    }
}

void VirtioPciInterrupt::signal_queue(uint16_t queue_index) {
    if (queue_index >= state_->queue_count) {
        return;
    }
    state_->isr.fetch_or(isr::kQueue);
    uint16_t vector = state_->queue_vector(queue_index);
    if (vector != kNoVector) {
        state_->msix->fire(vector);
    }
}

void VirtioPciInterrupt::signal_config() {
    state_->config_generation.fetch_add(1);
    state_->isr.fetch_or(isr::kConfig);
    uint16_t vector = state_->config_vector.load();
    if (vector != kNoVector) {
        state_->msix->fire(vector);
    }
}

int VirtioPciInterrupt::queue_irqfd(uint16_t queue_index) const {
    uint16_t vector = state_->queue_vector(queue_index);
    return vector == kNoVector ? -1 : state_->msix->vector_fd(vector);
}

}  // namespace skiff::virtio
