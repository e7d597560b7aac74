// A VirtioDevice that records what a transport does to it, for the
// transport tests: offered features, queue sizes and configuration bytes
// are fields to set; accepted features, activations and resets are kept.
#pragma once

#include "devices/virtio/virtio_device.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace skiff::testing {

class FakeVirtioDevice : public virtio::VirtioDevice {
public:
    uint64_t offered = 0;
    std::vector<uint16_t> max_sizes;
    std::vector<uint8_t> config;
    bool accept = true;                            // answer to accept_features()
    std::optional<std::string> activation_error;   // activate() fails with it when set
    std::vector<uint64_t> accepted_features;       // every accept_features() argument
    std::optional<virtio::Activation> activation;  // the current one
    int activations = 0;
    int resets = 0;

    [[nodiscard]] virtio::DeviceType device_type() const override { return virtio::DeviceType::Net; }
    [[nodiscard]] uint64_t device_features() const override { return offered; }
    [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const override { return max_sizes; }
    [[nodiscard]] uint32_t config_size() const override { return static_cast<uint32_t>(config.size()); }
    void read_config(uint64_t offset, std::span<uint8_t> data) const override {
        for (size_t index = 0; index < data.size(); ++index) {
            data[index] = offset + index < config.size() ? config[offset + index] : 0;
        }
    }
    void write_config(uint64_t offset, std::span<const uint8_t> data) override {
        for (size_t index = 0; index < data.size(); ++index) {
            if (offset + index < config.size()) {
                config[offset + index] = data[index];
            }
        }
    }
    [[nodiscard]] bool accept_features(uint64_t features) override {
        accepted_features.push_back(features);
        return accept;
    }
    [[nodiscard]] Result<void> activate(virtio::Activation given) override {
        ++activations;
        if (activation_error) {
            return Error{*activation_error};
        }
        activation = std::move(given);
        return {};
    }
    void reset() override {
        ++resets;
        activation.reset();
    }
    [[nodiscard]] std::string_view name() const override { return "fake0"; }
};

}  // namespace skiff::testing
