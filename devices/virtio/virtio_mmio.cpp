// virtio-mmio version 2; see virtio_mmio.h. Register values are
// little-endian, like the host (x86).
#include "devices/virtio/virtio_mmio.h"

#include "vmm/log_limit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <cstring>

namespace skiff::virtio {

namespace {

constexpr size_t kRegisterSize = 4;
constexpr uint32_t kDriverStatusBits =
    status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk | status::kFailed;
constexpr uint32_t kNoSharedMemory = 0xffffffff;  // ShmLen of -1: no such region
constexpr size_t kMaxQueues = size_t{UINT16_MAX} + 1;  // queue indices are 16-bit

uint32_t low_half(uint64_t value) { return static_cast<uint32_t>(value); }
uint32_t high_half(uint64_t value) { return static_cast<uint32_t>(value >> 32); }
uint64_t with_low_half(uint64_t old, uint32_t value) { return (old & 0xffffffff00000000) | value; }
uint64_t with_high_half(uint64_t old, uint32_t value) { return (old & 0xffffffff) | (uint64_t{value} << 32); }

bool config_access_size(size_t size) { return size == 1 || size == 2 || size == 4; }

}  // namespace

Result<std::shared_ptr<VirtioMmio>> VirtioMmio::create(std::shared_ptr<VirtioDevice> device,
                                                       const GuestMemory& memory, GuestAddress base,
                                                       IoEventRegistrar* registrar) {
    if (!device) {
        return Error{"virtio-mmio: no device"};
    }
    if (!base.checked_add(mmio::kWindowSize)) {
        return Error::format("virtio-mmio {}: base {:#x} leaves no room for the register window", device->name(),
                             base.value());
    }
    const std::span<const uint16_t> max_sizes = device->queue_max_sizes();
    if (max_sizes.size() > kMaxQueues) {
        return Error::format("virtio-mmio {}: {} queues (at most {})", device->name(), max_sizes.size(), kMaxQueues);
    }
    auto interrupt = TRY(MmioInterrupt::create());
    std::vector<QueueState> queues;
    queues.reserve(max_sizes.size());
    for (size_t index = 0; index < max_sizes.size(); ++index) {
        const uint16_t max_size = max_sizes[index];
        if (max_size == 0 || max_size > kMaxQueueSize || !std::has_single_bit(max_size)) {
            return Error::format("virtio-mmio {}: queue {} offers size {} (must be a power of two up to {})",
                                 device->name(), index, max_size, kMaxQueueSize);
        }
        EventFd notification = TRY(EventFd::create().context_error("virtio-mmio queue notification eventfd"));
        if (registrar != nullptr) {
            TRY(registrar
                    ->register_mmio_write(notification.fd(), base.value() + mmio::kQueueNotify, kRegisterSize,
                                          index)
                    .context_error(fmt::format("virtio-mmio {}: queue {} notification", device->name(), index)));
        }
        queues.emplace_back(std::move(notification));
        queues.back().max_size = max_size;
    }
    return std::shared_ptr<VirtioMmio>(
        new VirtioMmio(std::move(device), memory, base, std::move(interrupt), std::move(queues)));
}

VirtioMmio::VirtioMmio(std::shared_ptr<VirtioDevice> device, const GuestMemory& memory, GuestAddress base,
                       std::shared_ptr<MmioInterrupt> interrupt, std::vector<QueueState> queues)
    : device_(std::move(device)),
      memory_(memory),
      base_(base),
      interrupt_(std::move(interrupt)),
      name_(fmt::format("{} (virtio-mmio at {:#x})", device_->name(), base.value())),
      queues_(std::move(queues)),
      status_(std::make_shared<SharedStatus>()) {}

void VirtioMmio::read(uint64_t offset, std::span<uint8_t> data) {
    std::fill(data.begin(), data.end(), uint8_t{0});
    if (offset >= mmio::kConfig) {
        if (!config_access_size(data.size()) || offset > mmio::kWindowSize ||
            data.size() > mmio::kWindowSize - offset) {
            SKIFF_WARN_LIMITED("{}: {}-byte read of device configuration at {:#x}", name_, data.size(), offset);
            return;
        }
        std::lock_guard lock(mutex_);
        device_->read_config(offset - mmio::kConfig, data);
        return;
    }
    if (data.size() != kRegisterSize || offset % kRegisterSize != 0) {
        SKIFF_WARN_LIMITED("{}: {}-byte read of register {:#x} (only aligned 4-byte accesses)", name_, data.size(),
                           offset);
        return;
    }
    uint32_t value = 0;
    {
        std::lock_guard lock(mutex_);
        value = read_register(offset);
    }
    std::memcpy(data.data(), &value, sizeof(value));
}

void VirtioMmio::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset >= mmio::kConfig) {
        if (!config_access_size(data.size()) || offset > mmio::kWindowSize ||
            data.size() > mmio::kWindowSize - offset) {
            SKIFF_WARN_LIMITED("{}: {}-byte write of device configuration at {:#x}", name_, data.size(), offset);
            return;
        }
        std::lock_guard lock(mutex_);
        device_->write_config(offset - mmio::kConfig, data);
        return;
    }
    if (data.size() != kRegisterSize || offset % kRegisterSize != 0) {
        SKIFF_WARN_LIMITED("{}: {}-byte write of register {:#x} (only aligned 4-byte accesses)", name_, data.size(),
                           offset);
        return;
    }
    uint32_t value = 0;
    std::memcpy(&value, data.data(), sizeof(value));
    std::lock_guard lock(mutex_);
    write_register(offset, value);
}

uint32_t VirtioMmio::read_register(uint64_t offset) {
    const QueueState* queue = selected_queue();
    switch (offset) {
        case mmio::kMagicValue: return mmio::kMagic;
        case mmio::kVersion: return mmio::kVersion2;
        case mmio::kDeviceId: return static_cast<uint32_t>(device_->device_type());
        case mmio::kVendorId: return mmio::kSkiffVendor;
        case mmio::kDeviceFeatures: {
            const uint64_t offered = device_->device_features();
            switch (device_features_select_) {
                case 0: return low_half(offered);
                case 1: return high_half(offered);
                default: return 0;
            }
        }
        // A queue that does not exist reads as maximum size 0, which is how
        // a driver learns the number of queues.
        case mmio::kQueueNumMax: return queue != nullptr ? queue->max_size : 0;
        case mmio::kQueueReady: return queue != nullptr && queue->ready ? 1 : 0;
        case mmio::kInterruptStatus: return interrupt_->status();
        case mmio::kStatus: return status();
        case mmio::kShmLenLow:
        case mmio::kShmLenHigh:
        case mmio::kShmBaseLow:
        case mmio::kShmBaseHigh: return kNoSharedMemory;
        case mmio::kConfigGeneration: return interrupt_->config_generation();
        // Write-only and reserved registers.
        default: return 0;
    }
}

void VirtioMmio::write_register(uint64_t offset, uint32_t value) {
    switch (offset) {
        case mmio::kDeviceFeaturesSel: device_features_select_ = value; return;
        case mmio::kDriverFeatures:
            if ((status() & (status::kFeaturesOk | status::kDriverOk)) != 0) {
                SKIFF_WARN_LIMITED("{}: driver features written after FEATURES_OK; ignored", name_);
                return;
            }
            if (driver_features_select_ == 0) {
                driver_features_ = with_low_half(driver_features_, value);
            } else if (driver_features_select_ == 1) {
                driver_features_ = with_high_half(driver_features_, value);
            }
            // Other selections name features no one defines: nothing to keep.
            return;
        case mmio::kDriverFeaturesSel: driver_features_select_ = value; return;
        case mmio::kQueueSel: queue_select_ = value; return;
        case mmio::kQueueNum:
        case mmio::kQueueReady:
        case mmio::kQueueDescLow:
        case mmio::kQueueDescHigh:
        case mmio::kQueueDriverLow:
        case mmio::kQueueDriverHigh:
        case mmio::kQueueDeviceLow:
        case mmio::kQueueDeviceHigh: write_queue_register(offset, value); return;
        case mmio::kQueueNotify: notify(value); return;
        case mmio::kInterruptAck: interrupt_->acknowledge(value); return;
        case mmio::kStatus: write_status(value); return;
        case mmio::kShmSel: return;  // no regions to select
        default:
            SKIFF_WARN_LIMITED("{}: write of {:#x} to read-only or reserved register {:#x}", name_, value, offset);
            return;
    }
}

void VirtioMmio::write_queue_register(uint64_t offset, uint32_t value) {
    QueueState* queue = selected_queue();
    if (queue == nullptr) {
        SKIFF_WARN_LIMITED("{}: register {:#x} written for queue {}, which does not exist", name_, offset,
                           queue_select_);
        return;
    }
    // The queue's configuration is fixed once the driver has declared it
    // ready (until it withdraws that) and once the device runs.
    if ((status() & status::kDriverOk) != 0 || (queue->ready && offset != mmio::kQueueReady)) {
        SKIFF_WARN_LIMITED("{}: register {:#x} of queue {} written while the queue is ready or the device "
                           "running; ignored",
                           name_, offset, queue_select_);
        return;
    }
    switch (offset) {
        case mmio::kQueueNum: queue->size = value; return;
        case mmio::kQueueReady: queue->ready = value != 0; return;
        case mmio::kQueueDescLow: queue->descriptor_table = with_low_half(queue->descriptor_table, value); return;
        case mmio::kQueueDescHigh: queue->descriptor_table = with_high_half(queue->descriptor_table, value); return;
        case mmio::kQueueDriverLow: queue->driver_area = with_low_half(queue->driver_area, value); return;
        case mmio::kQueueDriverHigh: queue->driver_area = with_high_half(queue->driver_area, value); return;
        case mmio::kQueueDeviceLow: queue->device_area = with_low_half(queue->device_area, value); return;
        case mmio::kQueueDeviceHigh: queue->device_area = with_high_half(queue->device_area, value); return;
        default: return;
    }
}

void VirtioMmio::write_status(uint32_t value) {
    if (value == 0) {
        reset();
        return;
    }
    const uint8_t old = status();
    // The driver only ever adds bits (VIRTIO 1.2, 3.1.1); DEVICE_NEEDS_RESET
    // is the device's, and Linux writes back whatever it read.
    const auto requested = static_cast<uint8_t>(value & kDriverStatusBits);
    if ((old & kDriverStatusBits & ~requested) != 0) {
        SKIFF_WARN_LIMITED("{}: status {:#x} clears bits of {:#x} without a reset; kept them", name_, value, old);
    }
    uint8_t next = old | requested;
    if ((requested & status::kFeaturesOk) != 0 && (old & status::kFeaturesOk) == 0) {
        negotiate_features(next);
    }
    if ((requested & status::kDriverOk) != 0 && (old & status::kDriverOk) == 0) {
        if ((next & status::kFeaturesOk) == 0) {
            SKIFF_WARN_LIMITED("{}: DRIVER_OK without FEATURES_OK; ignored", name_);
            next &= static_cast<uint8_t>(~status::kDriverOk);
        } else {
            // DRIVER_OK shows before the data path starts, and stays if
            // activation fails (then with DEVICE_NEEDS_RESET).
            status_->bits.fetch_or(next & kDriverStatusBits);
            activate();
            return;
        }
    }
    status_->bits.fetch_or(next & kDriverStatusBits);
}

void VirtioMmio::negotiate_features(uint8_t& next) {
    const uint64_t offered = device_->device_features();
    std::string refusal;
    if ((driver_features_ & ~offered) != 0) {
        refusal = fmt::format("driver accepted features {:#x} that were not offered", driver_features_ & ~offered);
    } else if (!has_feature(driver_features_, feature::kVersion1)) {
        refusal = "driver did not accept VIRTIO_F_VERSION_1 (legacy drivers are not supported)";
    } else if (!device_->accept_features(driver_features_)) {
        refusal = fmt::format("device refused features {:#x}", driver_features_);
    }
    if (!refusal.empty()) {
        SKIFF_WARN_LIMITED("{}: {}; FEATURES_OK left clear", name_, refusal);
        next &= static_cast<uint8_t>(~status::kFeaturesOk);
    }
}

void VirtioMmio::activate() {
    auto activation = build_activation();
    if (!activation.ok()) {
        fail(activation.error().message);
        return;
    }
    auto started = device_->activate(std::move(activation).value());
    if (!started.ok()) {
        fail(started.error().message);
    }
}

Result<Activation> VirtioMmio::build_activation() {
    Activation activation;
    activation.memory = &memory_;
    activation.features = driver_features_;
    activation.interrupt = interrupt_;
    const bool event_index = has_feature(driver_features_, feature::kRingEventIdx);
    const bool indirect = has_feature(driver_features_, feature::kRingIndirectDesc);
    // The device gets the ready queues as a list, so they must be the first
    // ones: Linux numbers the queues it uses from 0 without gaps.
    size_t ready_count = 0;
    while (ready_count < queues_.size() && queues_[ready_count].ready) {
        ++ready_count;
    }
    for (size_t index = ready_count; index < queues_.size(); ++index) {
        if (queues_[index].ready) {
            return Error::format("queue {} is ready but queue {} is not", index, ready_count);
        }
    }
    for (size_t index = 0; index < ready_count; ++index) {
        const QueueState& state = queues_[index];
        if (state.size == 0 || state.size > state.max_size || !std::has_single_bit(state.size)) {
            return Error::format("queue {}: size {} (must be a power of two from 1 to {})", index, state.size,
                                 state.max_size);
        }
        QueueConfig config;
        config.max_size = state.max_size;
        config.size = static_cast<uint16_t>(state.size);
        config.ready = true;
        config.descriptor_table = GuestAddress(state.descriptor_table);
        config.available_ring = GuestAddress(state.driver_area);
        config.used_ring = GuestAddress(state.device_area);
        Queue queue = TRY(Queue::create(config, memory_, event_index, indirect)
                              .context_error(fmt::format("queue {}", index)));
        activation.queues.push_back(ActivatedQueue{std::move(queue), state.notification.fd()});
    }
    activation.needs_reset = [status = status_, interrupt = interrupt_, name = name_,
                              generation = status_->generation.load()](std::string_view reason) {
        if (status->generation.load() != generation) {
            return;  // the driver reset the device since
        }
        if ((status->bits.fetch_or(status::kDeviceNeedsReset) & status::kDeviceNeedsReset) == 0) {
            SKIFF_WARN_LIMITED("{}: device needs reset: {}", name, reason);
            interrupt->signal_config();
        }
    };
    return activation;
}

void VirtioMmio::fail(std::string_view reason) {
    SKIFF_WARN_LIMITED("{}: activation failed, device needs reset: {}", name_, reason);
    status_->bits.fetch_or(status::kDeviceNeedsReset);
    interrupt_->signal_config();
}

void VirtioMmio::notify(uint32_t value) {
    if ((status() & status::kDriverOk) == 0) {
        SKIFF_WARN_LIMITED("{}: notification for queue {} before DRIVER_OK; ignored", name_, value);
        return;
    }
    if (value >= queues_.size()) {
        SKIFF_WARN_LIMITED("{}: notification for queue {}, which does not exist; ignored", name_, value);
        return;
    }
    QueueState& queue = queues_[value];
    if (!queue.ready) {
        SKIFF_WARN_LIMITED("{}: notification for queue {}, which the driver did not set up; ignored", name_, value);
        return;
    }
    // Reaches here only when KVM did not take the write as an ioeventfd.
    queue.notification.signal();
}

void VirtioMmio::reset() {
    // Callbacks from the data path that is being stopped are dropped from
    // now on; the device's reset() returns once that data path is idle.
    status_->generation.fetch_add(1);
    device_->reset();
    status_->bits.store(0);
    interrupt_->clear();
    for (QueueState& queue : queues_) {
        queue.size = 0;
        queue.ready = false;
        queue.descriptor_table = 0;
        queue.driver_area = 0;
        queue.device_area = 0;
        // A notification before the reset means nothing to the next driver.
        queue.notification.consume();
    }
    device_features_select_ = 0;
    driver_features_select_ = 0;
    driver_features_ = 0;
    queue_select_ = 0;
}

VirtioMmio::QueueState* VirtioMmio::selected_queue() {
    return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

std::string mmio_command_line_word(GuestAddress base, uint64_t size, uint32_t irq) {
    // Linux reads the size with memparse(), which takes K as 1024.
    const std::string size_text = size % 1024 == 0 ? fmt::format("{}K", size / 1024) : fmt::format("{}", size);
    return fmt::format("virtio_mmio.device={}@{:#x}:{}", size_text, base.value(), irq);
}

}  // namespace skiff::virtio
