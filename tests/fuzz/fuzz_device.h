// The fake virtio device the transport fuzz targets (fuzz_virtio_mmio,
// fuzz_virtio_pci) drive: it checks what the transport promises a device
// (activation only with negotiated features, a subset of the offered ones
// with VERSION_1, never twice without a reset, valid queues with their kick
// eventfds; config accesses inside the transport's config window) and its
// data path pops real chains from the queues it was given.
#pragma once

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "devices/virtio/virtio_device.h"
#include "tests/fuzz/fuzz_support.h"

#include <array>
#include <bit>
#include <optional>

namespace skiff::fuzz {

// What a transport may pass to the device's config accessors.
struct ConfigWindow {
    uint64_t size = 0;          // offset + length never exceeds it
    uint32_t access_sizes = 0;  // bit n set: an n-byte access is allowed
};

class FuzzDevice final : public virtio::VirtioDevice {
public:
    static constexpr uint64_t kOffered =
        virtio::feature_bit(virtio::feature::kVersion1) | virtio::feature_bit(virtio::feature::kRingEventIdx) |
        virtio::feature_bit(virtio::feature::kRingIndirectDesc) | virtio::feature_bit(0) | virtio::feature_bit(5) |
        virtio::feature_bit(40);

    // `shape`: bit 0 refuses features, bit 1 fails activation, bits 2-3 one
    // to four queues.
    FuzzDevice(uint8_t shape, const GuestMemory& memory, ConfigWindow window)
        : refuse_((shape & 1) != 0),
          fail_activation_((shape & 2) != 0),
          max_sizes_{256, 16, 1, 1024},
          queue_count_(1 + ((shape >> 2) & 3)),
          memory_(memory),
          window_(window) {}

    [[nodiscard]] virtio::DeviceType device_type() const override { return virtio::DeviceType::Net; }
    [[nodiscard]] uint64_t device_features() const override { return kOffered; }
    [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const override {
        return std::span<const uint16_t>(max_sizes_).first(queue_count_);
    }
    [[nodiscard]] uint32_t config_size() const override { return static_cast<uint32_t>(config_.size()); }
    void read_config(uint64_t offset, std::span<uint8_t> data) const override {
        check_config_access(offset, data.size());
        for (size_t index = 0; index < data.size(); ++index) {
            data[index] = offset + index < config_.size() ? config_[offset + index] : 0;
        }
    }
    void write_config(uint64_t offset, std::span<const uint8_t> data) override {
        check_config_access(offset, data.size());
        for (size_t index = 0; index < data.size(); ++index) {
            if (offset + index < config_.size()) {
                config_[offset + index] = data[index];
            }
        }
    }
    [[nodiscard]] bool accept_features(uint64_t features) override {
        FUZZ_CHECK((features & ~kOffered) == 0);
        return !refuse_;
    }
    [[nodiscard]] Result<void> activate(virtio::Activation activation) override {
        FUZZ_CHECK(!activation_);  // never twice without a reset
        FUZZ_CHECK(!refuse_);
        FUZZ_CHECK((activation.features & ~kOffered) == 0);
        FUZZ_CHECK(virtio::has_feature(activation.features, virtio::feature::kVersion1));
        FUZZ_CHECK(activation.memory == &memory_);
        FUZZ_CHECK(activation.interrupt && activation.needs_reset);
        FUZZ_CHECK(activation.queues.size() <= queue_count_);
        for (size_t index = 0; index < activation.queues.size(); ++index) {
            const virtio::Queue& queue = activation.queues[index].queue;
            FUZZ_CHECK(std::has_single_bit(queue.size()) && queue.size() <= max_sizes_[index]);
            FUZZ_CHECK(activation.queues[index].kick_fd >= 0);
        }
        if (fail_activation_) {
            return Error{"activation refused by the fuzz device"};
        }
        spdlog::debug("fuzz device: activated, features {:#x}, {} queues", activation.features,
                      activation.queues.size());
        activation_ = std::move(activation);
        return {};
    }
    void reset() override { activation_.reset(); }
    [[nodiscard]] std::string_view name() const override { return "fuzz0"; }

    [[nodiscard]] bool active() const { return activation_.has_value(); }
    [[nodiscard]] size_t active_queues() const { return activation_ ? activation_->queues.size() : 0; }

    // What a data path does on a notification: pop, "use", signal.
    void process(uint32_t which) {
        if (!activation_ || activation_->queues.empty()) {
            return;
        }
        const size_t index = which % activation_->queues.size();
        virtio::Queue& queue = activation_->queues[index].queue;
        virtio::DescriptorChain chain;
        for (int count = 0; count < 64; ++count) {
            auto more = queue.pop(memory_, chain);
            if (!more.ok()) {
                activation_->needs_reset(more.error().message);
                return;
            }
            if (!*more) {
                break;
            }
            spdlog::debug("fuzz device: queue {} chain {}: {} readable bytes, {} writable", index, chain.head(),
                          chain.readable_bytes(), chain.writable_bytes());
            for (const virtio::Descriptor& descriptor : chain.readable()) {
                FUZZ_CHECK(memory_.contains(descriptor.address, descriptor.length));
            }
            for (const virtio::Descriptor& descriptor : chain.writable()) {
                FUZZ_CHECK(memory_.contains(descriptor.address, descriptor.length));
            }
            queue.add_used(chain.head(), 0);
        }
        if (queue.needs_notification()) {
            activation_->interrupt->signal_queue(static_cast<uint16_t>(index));
        }
    }
    // A device-side event: bits 0-1 pick it (process a queue, signal a
    // queue, signal a config change, ask for a reset), bits 8+ the queue.
    void action(uint32_t value) {
        if (!activation_) {
            return;
        }
        switch (value & 3) {
            case 0: process(value >> 8); break;
            case 1: activation_->interrupt->signal_queue(static_cast<uint16_t>(value >> 8)); break;
            case 2: activation_->interrupt->signal_config(); break;
            case 3: activation_->needs_reset("fuzz"); break;
        }
    }

private:
    void check_config_access(uint64_t offset, size_t length) const {
        FUZZ_CHECK(length < 32 && (window_.access_sizes & (1u << length)) != 0);
        FUZZ_CHECK(offset <= window_.size && length <= window_.size - offset);
    }

    bool refuse_;
    bool fail_activation_;
    std::array<uint16_t, 4> max_sizes_;
    size_t queue_count_;
    const GuestMemory& memory_;
    ConfigWindow window_;
    std::array<uint8_t, 24> config_{};
    std::optional<virtio::Activation> activation_;
};

}  // namespace skiff::fuzz
