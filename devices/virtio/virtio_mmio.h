// The virtio-mmio transport, register layout version 2 (VIRTIO 1.2,
// 4.2.2), for any VirtioDevice: a 4 KiB window on the MMIO bus, an
// interrupt line, and one notification eventfd per queue.
//
// Set-up (the VMM, before the vCPUs start):
//   auto transport = TRY(VirtioMmio::create(device, memory, base, registrar));
//   TRY(mmio_bus.insert(transport, base.value(), mmio::kWindowSize));
//   TRY(vm.register_irqfd(transport->interrupt_fd(), irq));
//   cmdline += " " + mmio_command_line_word(base, mmio::kWindowSize, irq);
// where `registrar` is a KvmIoEventRegistrar: each queue's eventfd becomes
// an ioeventfd on QueueNotify (4 bytes, datamatch = queue index), so
// notifications skip skiff; one that still arrives as a vCPU exit is
// forwarded to the same eventfd.
//
// Driver misbehaviour (bad access sizes, writes the specification forbids,
// notifications for queues that do not run) is ignored and logged once per
// kind; unusable queues at DRIVER_OK fail the device (DEVICE_NEEDS_RESET).
//
// Threads: register accesses come from vCPU threads and take a lock; the
// device's data path only touches the interrupt status and, through
// needs_reset, the status register, both atomics.
#pragma once

#include "devices/io_event_registrar.h"
#include "devices/virtio/mmio_interrupt.h"
#include "devices/virtio/mmio_registers.h"
#include "devices/virtio/virtio_device.h"
#include "vmm/bus.h"
#include "vmm/event_fd.h"
#include "vmm/guest_memory.h"

#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace skiff::virtio {

class VirtioMmio final : public BusDevice {
public:
    // `memory` must outlive the transport. `registrar` is only used here;
    // nullptr leaves every notification to the vCPU-exit path.
    static Result<std::shared_ptr<VirtioMmio>> create(std::shared_ptr<VirtioDevice> device,
                                                      const GuestMemory& memory, GuestAddress base,
                                                      IoEventRegistrar* registrar);

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // The eventfd to register as a KVM irqfd on the device's GSI.
    [[nodiscard]] int interrupt_fd() const { return interrupt_->event_fd(); }
    [[nodiscard]] GuestAddress base() const { return base_; }
    [[nodiscard]] const VirtioDevice& device() const { return *device_; }
    // Queue `index`'s notification eventfd (the kick fd handed to the
    // device at activation).
    [[nodiscard]] int notification_fd(uint16_t index) const { return queues_.at(index).notification.fd(); }

private:
    struct QueueState {
        explicit QueueState(EventFd event) : notification(std::move(event)) {}
        uint16_t max_size = 0;
        uint32_t size = 0;  // as written; checked at DRIVER_OK
        bool ready = false;
        uint64_t descriptor_table = 0;
        uint64_t driver_area = 0;
        uint64_t device_area = 0;
        EventFd notification;
    };
    // The status register: DEVICE_NEEDS_RESET may also be set from the data
    // path. `generation` advances at each reset, so that a needs_reset from
    // before one is dropped.
    struct SharedStatus {
        std::atomic<uint32_t> bits{0};
        std::atomic<uint64_t> generation{0};
    };
    VirtioMmio(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory, GuestAddress base,
               std::shared_ptr<MmioInterrupt> interrupt, std::vector<QueueState> queues);

    [[nodiscard]] uint32_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint32_t value);
    void write_queue_register(uint64_t offset, uint32_t value);
    void write_status(uint32_t value);
    // Clears FEATURES_OK in `next` if the features cannot be accepted.
    void negotiate_features(uint8_t& next);
    void activate();
    [[nodiscard]] Result<Activation> build_activation();
    void notify(uint32_t value);
    void reset();
    void fail(std::string_view reason);
    [[nodiscard]] QueueState* selected_queue();
    [[nodiscard]] uint8_t status() const { return static_cast<uint8_t>(status_->bits.load()); }

    const std::shared_ptr<VirtioDevice> device_;
    const GuestMemory& memory_;
    const GuestAddress base_;
    const std::shared_ptr<MmioInterrupt> interrupt_;
    const std::string name_;

    std::mutex mutex_;  // everything below but the atomics
    std::vector<QueueState> queues_;
    uint32_t device_features_select_ = 0;
    uint32_t driver_features_select_ = 0;
    uint64_t driver_features_ = 0;
    uint32_t queue_select_ = 0;
    // Shared with the needs_reset callbacks handed to the device.
    const std::shared_ptr<SharedStatus> status_;
};

// The kernel command-line word that declares a virtio-mmio device to
// Linux without ACPI: "virtio_mmio.device=4K@0xd0001000:5".
[[nodiscard]] std::string mmio_command_line_word(GuestAddress base, uint64_t size, uint32_t irq);

}  // namespace skiff::virtio
