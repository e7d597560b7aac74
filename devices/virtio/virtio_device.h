// A virtio device as a transport sees it: features, queues, configuration
// space, activation and reset. Devices know nothing of MMIO or PCI;
// transports know nothing of what a device does with its queues.
//
// Threads: the transport calls these from vCPU threads (register accesses);
// the device's data path runs on the event-loop thread. activate() and
// reset() are the hand-over points; a device synchronises them with its data
// path itself.
#pragma once

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

namespace skiff::virtio {

// How a device tells the driver about used buffers and configuration
// changes: an interrupt line plus ISR bits (mmio), MSI-X vectors (pci), or a
// test recorder. Called from the data-path thread.
class VirtioInterrupt {
public:
    virtual ~VirtioInterrupt() = default;
    virtual void signal_queue(uint16_t queue_index) = 0;
    virtual void signal_config() = 0;
    // An eventfd that, written to, has the same effect as signal_queue() for
    // this queue without skiff in the loop (MSI-X vector irqfd), or -1 where
    // the transport must run code on each interrupt (mmio's ISR). vhost uses
    // it as its call fd.
    [[nodiscard]] virtual int queue_irqfd(uint16_t /*queue_index*/) const { return -1; }
};

// One queue handed to the device at activation, with the eventfd the
// driver's notifications for it arrive on (a KVM ioeventfd, also written by
// the transport when a notification reaches it as a vCPU exit).
struct ActivatedQueue {
    Queue queue;
    int kick_fd = -1;
};

struct Activation {
    const GuestMemory* memory = nullptr;
    uint64_t features = 0;  // what the driver accepted: a subset of device_features()
    std::vector<ActivatedQueue> queues;
    std::shared_ptr<VirtioInterrupt> interrupt;
    // The device found the driver's rings unusable (a hostile or broken
    // driver): the transport sets DEVICE_NEEDS_RESET and signals a
    // configuration change. The device stops using its queues.
    std::function<void(std::string_view reason)> needs_reset;
};

class VirtioDevice {
public:
    virtual ~VirtioDevice() = default;

    [[nodiscard]] virtual DeviceType device_type() const = 0;
    // Offered features, transport bits included (VERSION_1 always).
    [[nodiscard]] virtual uint64_t device_features() const = 0;
    // One entry per queue: its maximum size (a power of two).
    [[nodiscard]] virtual std::span<const uint16_t> queue_max_sizes() const = 0;
    [[nodiscard]] virtual uint32_t config_size() const = 0;
    // Device configuration space; bytes beyond config_size() read as zero
    // and ignore writes.
    virtual void read_config(uint64_t offset, std::span<uint8_t> data) const = 0;
    virtual void write_config(uint64_t offset, std::span<const uint8_t> data) = 0;
    // The driver set FEATURES_OK with `features`; false refuses them (the
    // transport then leaves FEATURES_OK clear).
    [[nodiscard]] virtual bool accept_features(uint64_t features) { (void)features; return true; }
    // DRIVER_OK: start the data path. An error fails the device (status
    // DEVICE_NEEDS_RESET) and is logged by the transport.
    [[nodiscard]] virtual Result<void> activate(Activation activation) = 0;
    // The driver wrote status 0: stop the data path and forget the queues.
    // Returns once the data path no longer touches guest memory.
    virtual void reset() = 0;
    // For logs: "net0", ...
    [[nodiscard]] virtual std::string_view name() const = 0;
};

}  // namespace skiff::virtio
