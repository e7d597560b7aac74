#include "devices/virtio/virtio_pci.h"

#include "vmm/log_limit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <bit>

namespace skiff::virtio {

namespace {

// The width Linux (vp_notify: iowrite16) and the test guest notify with;
// a KVM ioeventfd matches one width only. Other widths exit to skiff.
constexpr uint32_t kNotifyWidth = 2;

std::array<uint8_t, pci_cap::kSize> virtio_capability(uint8_t type, uint8_t length, uint64_t offset,
                                                      uint64_t region_length) {
    std::array<uint8_t, pci_cap::kSize> bytes{};
    bytes[0] = pci::capability_id::kVendorSpecific;
    bytes[pci_cap::kLengthField] = length;
    bytes[pci_cap::kTypeField] = type;
    bytes[pci_cap::kBarField] = pci_bar::kIndex;
    for (size_t i = 0; i < 4; ++i) {
        bytes[pci_cap::kOffsetField + i] = static_cast<uint8_t>(offset >> (8 * i));
        bytes[pci_cap::kLengthOfRegion + i] = static_cast<uint8_t>(region_length >> (8 * i));
    }
    return bytes;
}

bool overlaps(uint64_t offset, size_t size, uint64_t start, uint64_t length) {
    return offset < start + length && start < offset + size;
}

}  // namespace

uint32_t pci_class_code(DeviceType type) {
    switch (type) {
        case DeviceType::Net:
            return 0x020000;  // network controller, Ethernet
        case DeviceType::Block:
            return 0x018000;  // mass storage, other
        case DeviceType::Console:
            return 0x078000;  // communication controller, other
        case DeviceType::Entropy:
            break;
    }
    return 0xff0000;  // unassigned class
}

Result<std::shared_ptr<VirtioPci>> VirtioPci::create(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory,
                                                     std::shared_ptr<pci::MsiRouting> routing,
                                                     IoEventRegistrar* registrar) {
    size_t queue_count = device->queue_max_sizes().size();
    if (queue_count > pci_bar::kMaxQueues) {
        return Error::format("virtio-pci {}: {} queues, at most {} possible", device->name(), queue_count,
                             pci_bar::kMaxQueues);
    }
    // One vector per queue and one for configuration changes.
    auto msix = TRY(pci::Msix::create(static_cast<uint16_t>(queue_count + 1), std::move(routing)));
    auto shared = std::make_shared<VirtioPciSharedState>(std::shared_ptr<pci::Msix>(std::move(msix)), queue_count);
    std::shared_ptr<VirtioPci> transport(new VirtioPci(std::move(device), memory, registrar, shared));
    for (size_t i = 0; i < queue_count; ++i) {
        transport->kick_fds_.push_back(TRY(EventFd::create()));
    }
    TRY(transport->build_config_space().context_error(fmt::format("virtio-pci {}", transport->name_)));
    return transport;
}

VirtioPci::VirtioPci(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory, IoEventRegistrar* registrar,
                     std::shared_ptr<VirtioPciSharedState> shared)
    : device_(std::move(device)),
      memory_(memory),
      registrar_(registrar),
      shared_(std::move(shared)),
      interrupt_(std::make_shared<VirtioPciInterrupt>(shared_)),
      name_(fmt::format("virtio-pci {}", device_->name())),
      config_(pci::Identity{
          .vendor_id = pci_ids::kVendor,
          .device_id = static_cast<uint16_t>(pci_ids::kModernDeviceBase + static_cast<uint32_t>(device_->device_type())),
          .revision = pci_ids::kRevision,
          .class_code = pci_class_code(device_->device_type()),
          .subsystem_vendor_id = pci_ids::kVendor,
          .subsystem_id = static_cast<uint16_t>(device_->device_type()),
      }) {
    for (uint16_t max_size : device_->queue_max_sizes()) {
        queues_.push_back(QueueRegisters{.max_size = max_size, .size = max_size});
    }
}

VirtioPci::~VirtioPci() {
    std::lock_guard lock(mutex_);
    // The kick fds close with this object: the device must not watch them
    // any longer. The ioeventfds are left to KVM, which drops them with the
    // VM (the registrar may be gone already when the buses are torn down).
    if (activated_) {
        device_->reset();
    }
}

Result<void> VirtioPci::build_config_space() {
    TRY(config_.add_bar(pci_bar::kIndex, pci_bar::kSize, pci::BarWidth::Bits64, /*prefetchable=*/false));

    auto common = virtio_capability(pci_cap::kCommonConfig, pci_cap::kSize, pci_bar::kCommonConfig, common_cfg::kSize);
    TRY(config_.add_capability(common));

    std::array<uint8_t, pci_cap::kNotifySize> notify{};
    auto notify_head = virtio_capability(pci_cap::kNotifyConfig, pci_cap::kNotifySize, pci_bar::kNotify,
                                         std::max<uint64_t>(queues_.size(), 1) * pci_bar::kNotifyOffMultiplier);
    std::ranges::copy(notify_head, notify.begin());
    for (size_t i = 0; i < 4; ++i) {
        notify[pci_cap::kNotifyMultiplierField + i] = static_cast<uint8_t>(pci_bar::kNotifyOffMultiplier >> (8 * i));
    }
    TRY(config_.add_capability(notify));

    auto isr_cap = virtio_capability(pci_cap::kIsrConfig, pci_cap::kSize, pci_bar::kIsr, 1);
    TRY(config_.add_capability(isr_cap));

    uint64_t config_size = std::min<uint64_t>(device_->config_size(), pci_bar::kRegionSize);
    if (config_size > 0) {
        auto device_cap = virtio_capability(pci_cap::kDeviceConfig, pci_cap::kSize, pci_bar::kDeviceConfig,
                                            config_size);
        TRY(config_.add_capability(device_cap));
    }

    // The PCI configuration access capability: bar, offset, length and the
    // data window are the driver's to write.
    std::array<uint8_t, pci_cap::kPciConfigSize> access{};
    auto access_head = virtio_capability(pci_cap::kPciConfig, pci_cap::kPciConfigSize, 0, 0);
    std::ranges::copy(access_head, access.begin());
    std::array<uint8_t, pci_cap::kPciConfigSize> access_mask{};
    access_mask[pci_cap::kBarField] = 0xff;
    std::fill_n(access_mask.begin() + pci_cap::kOffsetField, 4, 0xff);
    std::fill_n(access_mask.begin() + pci_cap::kLengthOfRegion, 4, 0xff);
    std::fill_n(access_mask.begin() + pci_cap::kPciConfigDataField, 4, 0xff);
    config_access_capability_ = TRY(config_.add_capability(access, access_mask));

    const pci::Msix& msix = *shared_->msix;
    auto msix_cap = msix.capability(pci_bar::kIndex, static_cast<uint32_t>(pci_bar::kMsixTable), pci_bar::kIndex,
                                    static_cast<uint32_t>(pci_bar::kMsixPba));
    msix_capability_ = TRY(config_.add_capability(msix_cap, pci::Msix::capability_write_mask()));
    return {};
}

bool VirtioPci::activated() const {
    std::lock_guard lock(mutex_);
    return activated_;
}

int VirtioPci::kick_fd(uint16_t queue) const { return queue < kick_fds_.size() ? kick_fds_[queue].fd() : -1; }

void VirtioPci::config_read(uint16_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    uint64_t data_field = uint64_t{config_access_capability_} + pci_cap::kPciConfigDataField;
    if (overlaps(offset, data.size(), data_field, 4)) {
        access_through_config_capability(/*is_write=*/false);
    }
    config_.read(offset, data);
}

void VirtioPci::config_write(uint16_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    config_.write(offset, data);
    uint64_t message_control = uint64_t{msix_capability_} + pci::Msix::kMessageControlOffset;
    if (overlaps(offset, data.size(), message_control, 2)) {
        shared_->msix->set_message_control(config_.read16(message_control));
    }
    uint64_t data_field = uint64_t{config_access_capability_} + pci_cap::kPciConfigDataField;
    if (overlaps(offset, data.size(), data_field, 4)) {
        access_through_config_capability(/*is_write=*/true);
    }
}

void VirtioPci::access_through_config_capability(bool is_write) {
    uint64_t cap = config_access_capability_;
    uint8_t bar = config_.read8(cap + pci_cap::kBarField);
    uint32_t offset = config_.read32(cap + pci_cap::kOffsetField);
    uint32_t length = config_.read32(cap + pci_cap::kLengthOfRegion);
    // VIRTIO 1.2, 4.1.4.9: 1, 2 or 4 bytes, aligned, inside the BAR.
    if (bar != pci_bar::kIndex || (length != 1 && length != 2 && length != 4) || offset % length != 0 ||
        uint64_t{offset} + length > pci_bar::kSize) {
        return;
    }
    std::array<uint8_t, 4> bytes{};
    uint64_t data_field = cap + pci_cap::kPciConfigDataField;
    if (is_write) {
        config_.read(data_field, std::span(bytes).first(length));
        write_bar(offset, std::span<const uint8_t>(bytes).first(length));
    } else {
        read_bar(offset, std::span(bytes).first(length));
        for (size_t i = 0; i < length; ++i) {
            config_.set8(data_field + i, bytes[i]);
        }
    }
}

std::vector<pci::Bar> VirtioPci::bars() const {
    std::lock_guard lock(mutex_);
    std::vector<pci::Bar> result;
    if (auto bar = config_.bar(pci_bar::kIndex)) {
        result.push_back(*bar);
    }
    return result;
}

void VirtioPci::assign_bar(uint8_t bar, uint64_t address) {
    std::lock_guard lock(mutex_);
    config_.set_bar_address(bar, address);
}

void VirtioPci::bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    if (bar != pci_bar::kIndex) {
        std::ranges::fill(data, 0xff);
        return;
    }
    read_bar(offset, data);
}

void VirtioPci::bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    if (bar == pci_bar::kIndex) {
        write_bar(offset, data);
    }
}

void VirtioPci::bar_moved(uint8_t bar, std::optional<uint64_t> old_address, std::optional<uint64_t> new_address) {
    (void)old_address;
    std::lock_guard lock(mutex_);
    if (bar != pci_bar::kIndex) {
        return;
    }
    bar_address_ = new_address;
    if (activated_) {
        unregister_ioevents();
        register_ioevents();
    }
}

// An access must lie inside one region; anything else reads zero and is
// ignored (no driver does it).
void VirtioPci::read_bar(uint64_t offset, std::span<uint8_t> data) {
    std::ranges::fill(data, 0);
    if (offset >= pci_bar::kSize || data.size() > pci_bar::kSize - offset) {
        return;
    }
    auto inside = [&](uint64_t start, uint64_t length) {
        return offset >= start && offset - start + data.size() <= length;
    };
    if (inside(pci_bar::kCommonConfig, pci_bar::kRegionSize)) {
        read_common_bytes(offset - pci_bar::kCommonConfig, data);
    } else if (inside(pci_bar::kIsr, pci_bar::kRegionSize)) {
        // Reading the ISR status acknowledges it.
        if (offset == pci_bar::kIsr) {
            data[0] = shared_->isr.exchange(0);
        }
    } else if (inside(pci_bar::kDeviceConfig, pci_bar::kRegionSize)) {
        device_->read_config(offset - pci_bar::kDeviceConfig, data);
    } else if (inside(pci_bar::kMsixTable, pci_bar::kMsixTableRegionSize)) {
        shared_->msix->table_read(offset - pci_bar::kMsixTable, data);
    } else if (inside(pci_bar::kMsixPba, pci_bar::kSize - pci_bar::kMsixPba)) {
        shared_->msix->pba_read(offset - pci_bar::kMsixPba, data);
    }
}

void VirtioPci::write_bar(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= pci_bar::kSize || data.size() > pci_bar::kSize - offset) {
        return;
    }
    auto inside = [&](uint64_t start, uint64_t length) {
        return offset >= start && offset - start + data.size() <= length;
    };
    if (inside(pci_bar::kCommonConfig, pci_bar::kRegionSize)) {
        write_common_bytes(offset - pci_bar::kCommonConfig, data);
    } else if (inside(pci_bar::kDeviceConfig, pci_bar::kRegionSize)) {
        device_->write_config(offset - pci_bar::kDeviceConfig, data);
    } else if (inside(pci_bar::kNotify, pci_bar::kRegionSize)) {
        notify(offset - pci_bar::kNotify);
    } else if (inside(pci_bar::kMsixTable, pci_bar::kMsixTableRegionSize)) {
        shared_->msix->table_write(offset - pci_bar::kMsixTable, data);
    }
    // ISR and PBA are read-only.
}

void VirtioPci::notify(uint64_t offset) {
    if (offset % pci_bar::kNotifyOffMultiplier != 0) {
        return;
    }
    uint64_t queue = offset / pci_bar::kNotifyOffMultiplier;
    if (queue >= queues_.size()) {
        return;
    }
    if (!activated_) {
        SKIFF_WARN_LIMITED("{}: queue notification before DRIVER_OK: ignored", name_);
        return;
    }
    if (queue >= activated_queue_count_) {
        return;
    }
    kick_fds_[queue].signal();
}

void VirtioPci::register_ioevents() {
    if (!activated_ || !bar_address_ || registrar_ == nullptr) {
        return;
    }
    for (size_t i = 0; i < activated_queue_count_; ++i) {
        uint64_t address = *bar_address_ + pci_bar::kNotify + i * pci_bar::kNotifyOffMultiplier;
        auto status = registrar_->register_mmio_write(kick_fds_[i].fd(), address, kNotifyWidth, i);
        if (!status.ok()) {
            // Notifications still arrive, as vCPU exits.
            SKIFF_WARN_LIMITED("{}: queue {} ioeventfd at {:#x}: {}", name_, i, address, status.error().message);
        }
    }
    ioevents_at_ = bar_address_;
}

void VirtioPci::unregister_ioevents() {
    if (!ioevents_at_ || registrar_ == nullptr) {
        return;
    }
    for (size_t i = 0; i < activated_queue_count_; ++i) {
        uint64_t address = *ioevents_at_ + pci_bar::kNotify + i * pci_bar::kNotifyOffMultiplier;
        // Fails only for one that registration refused (already logged).
        (void)registrar_->unregister_mmio_write(kick_fds_[i].fd(), address, kNotifyWidth, i);
    }
    ioevents_at_.reset();
}

}  // namespace skiff::virtio
