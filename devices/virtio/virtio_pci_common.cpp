// virtio-pci's common configuration structure (VIRTIO 1.2, 4.1.4.3) and the
// device status state machine behind it: feature negotiation, activation at
// DRIVER_OK, reset. The PCI side (configuration space, BAR dispatch,
// notifications) is in virtio_pci.cpp.
#include "devices/virtio/virtio_pci.h"
#include "vmm/log_limit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <bit>

namespace skiff::virtio {

namespace {

struct CommonField {
    uint16_t offset;
    uint8_t size;
};

constexpr std::array<CommonField, 18> kCommonFields{{
    {common_cfg::kDeviceFeatureSelect, 4},
    {common_cfg::kDeviceFeature, 4},
    {common_cfg::kDriverFeatureSelect, 4},
    {common_cfg::kDriverFeature, 4},
    {common_cfg::kConfigMsixVector, 2},
    {common_cfg::kNumQueues, 2},
    {common_cfg::kDeviceStatus, 1},
    {common_cfg::kConfigGeneration, 1},
    {common_cfg::kQueueSelect, 2},
    {common_cfg::kQueueSize, 2},
    {common_cfg::kQueueMsixVector, 2},
    {common_cfg::kQueueEnable, 2},
    {common_cfg::kQueueNotifyOff, 2},
    {common_cfg::kQueueDescriptor, 8},
    {common_cfg::kQueueDriver, 8},
    {common_cfg::kQueueDevice, 8},
    {common_cfg::kQueueNotifyData, 2},
    {common_cfg::kQueueReset, 2},
}};

// The overlap of an access [offset, offset + size) with a field, as
// (first byte in the access, first byte in the field, length).
struct Overlap {
    size_t data_index;
    size_t field_index;
    size_t length;
};

std::optional<Overlap> overlap(uint64_t offset, size_t size, const CommonField& field) {
    uint64_t start = std::max<uint64_t>(offset, field.offset);
    uint64_t end = std::min<uint64_t>(offset + size, uint64_t{field.offset} + field.size);
    if (start >= end) {
        return std::nullopt;
    }
    return Overlap{start - offset, start - field.offset, end - start};
}

}  // namespace

void VirtioPci::read_common_bytes(uint64_t offset, std::span<uint8_t> data) const {
    for (const CommonField& field : kCommonFields) {
        if (auto part = overlap(offset, data.size(), field)) {
            uint64_t value = read_common(field.offset);
            for (size_t i = 0; i < part->length; ++i) {
                data[part->data_index + i] = static_cast<uint8_t>(value >> (8 * (part->field_index + i)));
            }
        }
    }
}

void VirtioPci::write_common_bytes(uint64_t offset, std::span<const uint8_t> data) {
    // A partial write to a field keeps the field's other bytes.
    for (const CommonField& field : kCommonFields) {
        if (auto part = overlap(offset, data.size(), field)) {
            uint64_t value = read_common(field.offset);
            for (size_t i = 0; i < part->length; ++i) {
                unsigned shift = static_cast<unsigned>(8 * (part->field_index + i));
                value = (value & ~(uint64_t{0xff} << shift)) | (uint64_t{data[part->data_index + i]} << shift);
            }
            write_common(field.offset, value);
        }
    }
}

VirtioPci::QueueRegisters* VirtioPci::selected_queue() {
    return queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
}

bool VirtioPci::driver_ok() const { return (shared_->status.load() & status::kDriverOk) != 0; }

uint64_t VirtioPci::read_common(uint16_t field) const {
    const QueueRegisters* queue = queue_select_ < queues_.size() ? &queues_[queue_select_] : nullptr;
    switch (field) {
        case common_cfg::kDeviceFeatureSelect:
            return device_feature_select_;
        case common_cfg::kDeviceFeature: {
            uint64_t offered = device_->device_features();
            return device_feature_select_ == 0 ? static_cast<uint32_t>(offered)
                   : device_feature_select_ == 1 ? static_cast<uint32_t>(offered >> 32)
                                                 : 0;
        }
        case common_cfg::kDriverFeatureSelect:
            return driver_feature_select_;
        case common_cfg::kDriverFeature:
            return driver_feature_select_ == 0 ? static_cast<uint32_t>(driver_features_)
                   : driver_feature_select_ == 1 ? static_cast<uint32_t>(driver_features_ >> 32)
                                                 : 0;
        case common_cfg::kConfigMsixVector:
            return shared_->config_vector.load();
        case common_cfg::kNumQueues:
            return queues_.size();
        case common_cfg::kDeviceStatus:
            return shared_->status.load();
        case common_cfg::kConfigGeneration:
            return shared_->config_generation.load();
        case common_cfg::kQueueSelect:
            return queue_select_;
        case common_cfg::kQueueSize:
            return queue != nullptr ? queue->size : 0;
        case common_cfg::kQueueMsixVector:
            return queue != nullptr ? shared_->queue_vector(queue_select_) : 0;
        case common_cfg::kQueueEnable:
            return queue != nullptr && queue->enabled ? 1 : 0;
        case common_cfg::kQueueNotifyOff:
            // Queue i notifies at notify base + i * multiplier.
            return queue != nullptr ? queue_select_ : 0;
        case common_cfg::kQueueDescriptor:
            return queue != nullptr ? queue->descriptor_table : 0;
        case common_cfg::kQueueDriver:
            return queue != nullptr ? queue->driver_area : 0;
        case common_cfg::kQueueDevice:
            return queue != nullptr ? queue->device_area : 0;
        default:
            // queue_notify_data and queue_reset: their features are not
            // offered.
            return 0;
    }
}

void VirtioPci::write_common(uint16_t field, uint64_t value) {
    auto valid_vector = [&](uint64_t vector) {
        return vector == kNoVector || vector < shared_->msix->vector_count() ? static_cast<uint16_t>(vector)
                                                                             : kNoVector;
    };
    switch (field) {
        case common_cfg::kDeviceFeatureSelect:
            device_feature_select_ = static_cast<uint32_t>(value);
            return;
        case common_cfg::kDriverFeatureSelect:
            driver_feature_select_ = static_cast<uint32_t>(value);
            return;
        case common_cfg::kDriverFeature:
            if ((shared_->status.load() & status::kFeaturesOk) != 0) {
                SKIFF_WARN_LIMITED("{}: driver features written after FEATURES_OK: ignored", name_);
                return;
            }
            if (driver_feature_select_ == 0) {
                driver_features_ = (driver_features_ & ~uint64_t{0xffffffff}) | static_cast<uint32_t>(value);
            } else if (driver_feature_select_ == 1) {
                driver_features_ = (driver_features_ & 0xffffffff) | (uint64_t{static_cast<uint32_t>(value)} << 32);
            }
            return;
        case common_cfg::kConfigMsixVector:
            shared_->config_vector.store(valid_vector(value & 0xffff));
            return;
        case common_cfg::kDeviceStatus:
            write_status(static_cast<uint8_t>(value));
            return;
        case common_cfg::kQueueSelect:
            queue_select_ = static_cast<uint16_t>(value);
            return;
        default:
            break;
    }
    bool queue_field = field == common_cfg::kQueueSize || field == common_cfg::kQueueMsixVector ||
                       field == common_cfg::kQueueEnable || field == common_cfg::kQueueDescriptor ||
                       field == common_cfg::kQueueDriver || field == common_cfg::kQueueDevice;
    QueueRegisters* queue = selected_queue();
    if (!queue_field || queue == nullptr) {
        return;  // read-only, or no such queue
    }
    if (driver_ok()) {
        SKIFF_WARN_LIMITED("{}: queue configuration written after DRIVER_OK: ignored", name_);
        return;
    }
    switch (field) {
        case common_cfg::kQueueSize:
            queue->size = static_cast<uint16_t>(value);  // checked at DRIVER_OK
            break;
        case common_cfg::kQueueMsixVector:
            shared_->queue_vectors[queue_select_].store(valid_vector(value & 0xffff));
            break;
        case common_cfg::kQueueEnable:
            queue->enabled = (value & 1) != 0;
            break;
        case common_cfg::kQueueDescriptor:
            queue->descriptor_table = value;
            break;
        case common_cfg::kQueueDriver:
            queue->driver_area = value;
            break;
        case common_cfg::kQueueDevice:
            queue->device_area = value;
            break;
        default:
            break;
    }
}

void VirtioPci::write_status(uint8_t value) {
    if (value == 0) {
        reset();
        return;
    }
    // The driver only adds bits (VIRTIO 1.2, 3.1.1); DEVICE_NEEDS_RESET is
    // the device's to set.
    uint8_t current = shared_->status.load();
    auto added = static_cast<uint8_t>(value & ~current & ~status::kDeviceNeedsReset);
    if ((added & status::kFeaturesOk) != 0) {
        uint64_t offered = device_->device_features();
        if ((driver_features_ & ~offered) != 0) {
            SKIFF_WARN_LIMITED("{}: driver accepted features {:#x} that were not offered: FEATURES_OK refused", name_,
                               driver_features_ & ~offered);
            added = static_cast<uint8_t>(added & ~status::kFeaturesOk);
        } else if (!has_feature(driver_features_, feature::kVersion1)) {
            SKIFF_WARN_LIMITED("{}: driver did not accept VIRTIO_F_VERSION_1 (a legacy driver?): FEATURES_OK refused",
                               name_);
            added = static_cast<uint8_t>(added & ~status::kFeaturesOk);
        } else if (!device_->accept_features(driver_features_)) {
            SKIFF_WARN_LIMITED("{}: device refused features {:#x}: FEATURES_OK refused", name_, driver_features_);
            added = static_cast<uint8_t>(added & ~status::kFeaturesOk);
        }
    }
    if ((added & status::kDriverOk) != 0) {
        shared_->status.fetch_or(static_cast<uint8_t>(added & ~status::kDriverOk));
        activate();
        return;
    }
    shared_->status.fetch_or(added);
}

void VirtioPci::activate() {
    auto fail = [&](std::string_view reason) {
        SKIFF_WARN_LIMITED("{}: DRIVER_OK: {}; device needs reset", name_, reason);
        shared_->status.fetch_or(status::kDriverOk | status::kDeviceNeedsReset);
        interrupt_->signal_config();
    };
    if ((shared_->status.load() & status::kFeaturesOk) == 0) {
        fail("FEATURES_OK is not set");
        return;
    }
    // The device gets the enabled queues from 0 up (a device whose later
    // queues are optional, like virtio-net's control queue, sees fewer).
    size_t count = 0;
    while (count < queues_.size() && queues_[count].enabled) {
        ++count;
    }
    for (size_t i = count; i < queues_.size(); ++i) {
        if (queues_[i].enabled) {
            fail(fmt::format("queue {} is enabled but queue {} is not", i, count));
            return;
        }
    }
    bool event_index = has_feature(driver_features_, feature::kRingEventIdx);
    bool indirect = has_feature(driver_features_, feature::kRingIndirectDesc);
    Activation activation;
    activation.memory = &memory_;
    activation.features = driver_features_;
    activation.interrupt = interrupt_;
    for (size_t i = 0; i < count; ++i) {
        const QueueRegisters& registers = queues_[i];
        if (registers.size == 0 || registers.size > registers.max_size || !std::has_single_bit(registers.size)) {
            fail(fmt::format("queue {} size {} is not a power of two between 1 and {}", i, registers.size,
                             registers.max_size));
            return;
        }
        QueueConfig config{.max_size = registers.max_size,
                           .size = registers.size,
                           .ready = true,
                           .descriptor_table = GuestAddress(registers.descriptor_table),
                           .available_ring = GuestAddress(registers.driver_area),
                           .used_ring = GuestAddress(registers.device_area)};
        auto queue = Queue::create(config, memory_, event_index, indirect);
        if (!queue.ok()) {
            fail(fmt::format("queue {}: {}", i, queue.error().message));
            return;
        }
        activation.queues.push_back(ActivatedQueue{std::move(queue).value(), kick_fds_[i].fd()});
    }
    activation.needs_reset = [shared = shared_, interrupt = interrupt_, name = name_,
                              generation = shared_->reset_count.load()](std::string_view reason) {
        if (shared->reset_count.load() != generation) {
            return;  // from before a reset: the driver has started over
        }
        SKIFF_WARN_LIMITED("{}: device needs reset: {}", name, reason);
        shared->status.fetch_or(status::kDeviceNeedsReset);
        interrupt->signal_config();
    };
    auto activated = device_->activate(std::move(activation));
    if (!activated.ok()) {
        fail(activated.error().message);
        return;
    }
    activated_ = true;
    activated_queue_count_ = count;
    shared_->status.fetch_or(status::kDriverOk);
    register_ioevents();
}

void VirtioPci::reset() {
    unregister_ioevents();
    // Returns once the data path has stopped; it touches only the shared
    // atomics, never this lock, so holding the lock here cannot deadlock.
    device_->reset();
    activated_ = false;
    activated_queue_count_ = 0;
    shared_->reset_count.fetch_add(1);
    for (size_t i = 0; i < queues_.size(); ++i) {
        queues_[i] = QueueRegisters{.max_size = queues_[i].max_size, .size = queues_[i].max_size};
        shared_->queue_vectors[i].store(kNoVector);
        (void)kick_fds_[i].consume();
    }
    shared_->config_vector.store(kNoVector);
    shared_->isr.store(0);
    device_feature_select_ = 0;
    driver_feature_select_ = 0;
    driver_features_ = 0;
    queue_select_ = 0;
    shared_->status.store(0);
}

}  // namespace skiff::virtio
