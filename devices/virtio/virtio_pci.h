// The virtio-pci modern transport (VIRTIO 1.2, 4.1) for a VirtioDevice: a
// PCI function 1af4:(1040 + device type), revision 1, with one 64-bit memory
// BAR holding the common configuration, ISR status, device configuration,
// notification area and MSI-X table and PBA, found through vendor
// capabilities (types 1 to 5) and the MSI-X capability. No INTx.
//
// Queue notifications: each queue has an eventfd (the device's kick fd). From
// DRIVER_OK until reset it is a KVM ioeventfd on the queue's notification
// address (2 bytes, datamatch = queue index, as VIRTIO 1.2, 4.1.5.2 has the
// driver write), moved when the guest moves the BAR; a notification that
// still exits to skiff (another width or value, ioeventfd refused) is
// forwarded to it.
// Interrupts: MSI-X (VirtioPciInterrupt), one vector per queue plus one for
// configuration changes.
//
// Threads: register accesses come from vCPU threads and are serialised by
// the transport's lock; the device's data path only touches the shared
// atomic state (virtio_pci_interrupt.h).
#pragma once

#include "devices/io_event_registrar.h"
#include "devices/pci/msi_routing.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci_device.h"
#include "devices/virtio/virtio_device.h"
#include "devices/virtio/virtio_pci_interrupt.h"
#include "devices/virtio/virtio_pci_layout.h"
#include "vmm/event_fd.h"
#include "vmm/guest_memory.h"

#include <array>
#include <chrono>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace skiff::virtio {

class VirtioPci final : public pci::PciDevice {
public:
    // `memory` must outlive the transport, `registrar` the guest's use of
    // it (destruction does not unregister: KVM drops ioeventfds with the
    // VM); a null registrar leaves every notification to the vCPU-exit path. `routing` is the VM's
    // one MsiRouting (KvmIrqRouting), shared by all MSI-X devices. Fails for
    // a device with more than pci_bar::kMaxQueues queues, or when eventfds,
    // GSIs or irqfds cannot be had.
    static Result<std::shared_ptr<VirtioPci>> create(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory,
                                                     std::shared_ptr<pci::MsiRouting> routing,
                                                     IoEventRegistrar* registrar);
    ~VirtioPci() override;
    VirtioPci(const VirtioPci&) = delete;
    VirtioPci& operator=(const VirtioPci&) = delete;

    // pci::PciDevice
    void config_read(uint16_t offset, std::span<uint8_t> data) override;
    void config_write(uint16_t offset, std::span<const uint8_t> data) override;
    [[nodiscard]] std::vector<pci::Bar> bars() const override;
    void assign_bar(uint8_t bar, uint64_t address) override;
    void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) override;
    void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) override;
    void bar_moved(uint8_t bar, std::optional<uint64_t> old_address, std::optional<uint64_t> new_address) override;
    [[nodiscard]] std::string_view name() const override { return name_; }

    // For tests and logs.
    [[nodiscard]] uint8_t device_status() const { return shared_->status.load(); }
    [[nodiscard]] bool activated() const;
    [[nodiscard]] int kick_fd(uint16_t queue) const;
    [[nodiscard]] const pci::Msix& msix() const { return *shared_->msix; }
    [[nodiscard]] std::shared_ptr<VirtioInterrupt> interrupt() const { return interrupt_; }

private:
    // What the driver programs for one queue.
    struct QueueRegisters {
        uint16_t max_size = 0;
        uint16_t size = 0;
        bool enabled = false;
        uint64_t descriptor_table = 0;
        uint64_t driver_area = 0;
        uint64_t device_area = 0;
    };

    VirtioPci(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory, IoEventRegistrar* registrar,
              std::shared_ptr<VirtioPciSharedState> shared);
    [[nodiscard]] Result<void> build_config_space();

    // All below are called with mutex_ held.
    void read_bar(uint64_t offset, std::span<uint8_t> data);
    void write_bar(uint64_t offset, std::span<const uint8_t> data);
    // virtio_pci_common.cpp: the common configuration structure.
    void read_common_bytes(uint64_t offset, std::span<uint8_t> data) const;
    void write_common_bytes(uint64_t offset, std::span<const uint8_t> data);
    [[nodiscard]] uint64_t read_common(uint16_t field) const;
    void write_common(uint16_t field, uint64_t value);
    void write_status(uint8_t value);
    void notify(uint64_t offset);
    void activate();
    void reset();
    void register_ioevents();
    void unregister_ioevents();
    [[nodiscard]] QueueRegisters* selected_queue();
    [[nodiscard]] bool driver_ok() const;
    void access_through_config_capability(bool is_write);

    std::shared_ptr<VirtioDevice> device_;
    const GuestMemory& memory_;
    IoEventRegistrar* registrar_;
    std::shared_ptr<VirtioPciSharedState> shared_;
    std::shared_ptr<VirtioPciInterrupt> interrupt_;
    std::string name_;

    mutable std::mutex mutex_;
    pci::ConfigSpace config_;
    uint8_t msix_capability_ = 0;
    uint8_t config_access_capability_ = 0;
    std::vector<QueueRegisters> queues_;
    std::vector<EventFd> kick_fds_;
    uint32_t device_feature_select_ = 0;
    uint32_t driver_feature_select_ = 0;
    uint64_t driver_features_ = 0;
    uint16_t queue_select_ = 0;
    bool activated_ = false;
    size_t activated_queue_count_ = 0;
    std::optional<uint64_t> bar_address_;  // where the BAR is decoded
    std::optional<uint64_t> ioevents_at_;  // BAR address the ioeventfds are registered for
};

}  // namespace skiff::virtio
