#include "devices/virtio/mmio_interrupt.h"

#include "devices/virtio/mmio_registers.h"

namespace skiff::virtio {

Result<std::shared_ptr<MmioInterrupt>> MmioInterrupt::create() {
    EventFd event = TRY(EventFd::create().context_error("virtio-mmio interrupt eventfd"));
    return std::shared_ptr<MmioInterrupt>(new MmioInterrupt(std::move(event)));
}

void MmioInterrupt::signal_queue(uint16_t /*queue_index*/) { raise(mmio::kInterruptUsedBuffer); }

void MmioInterrupt::signal_config() {
    config_generation_.fetch_add(1);
    raise(mmio::kInterruptConfigChange);
}

void MmioInterrupt::raise(uint32_t bits) {
    // The bit is set before the edge, so the driver's handler finds it. Each
    // signal is an edge even if the bit was already set: an edge lost while
    // the line was masked must not leave the driver waiting for ever.
    status_.fetch_or(bits);
    event_.signal();
}

}  // namespace skiff::virtio
