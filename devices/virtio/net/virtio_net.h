// The virtio-net device, control plane: features, configuration space,
// activation and reset. The data path is net::QueuePair on the event loop.
#pragma once

#include "devices/virtio/virtio_device.h"
#include "net/backend.h"
#include "net/queue_pair.h"
#include "vmm/event_loop.h"

#include <array>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace skiff::virtio {

struct VirtioNetOptions {
    std::string name;  // "net0"
    std::array<uint8_t, 6> mac{};
    std::optional<uint16_t> mtu;  // offered as VIRTIO_NET_F_MTU when set
};

class VirtioNet final : public VirtioDevice {
public:
    VirtioNet(VirtioNetOptions options, std::unique_ptr<net::NetBackend> backend, EventLoop& loop);
    ~VirtioNet() override;

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Net; }
    [[nodiscard]] uint64_t device_features() const override { return features_; }
    [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const override { return queue_sizes_; }
    [[nodiscard]] uint32_t config_size() const override;
    void read_config(uint64_t offset, std::span<uint8_t> data) const override;
    void write_config(uint64_t offset, std::span<const uint8_t> data) override;
    [[nodiscard]] bool accept_features(uint64_t features) override;
    [[nodiscard]] Result<void> activate(Activation activation) override;
    void reset() override;
    [[nodiscard]] std::string_view name() const override { return options_.name; }

    [[nodiscard]] const net::NetCounters& counters() const { return counters_; }
    [[nodiscard]] net::NetBackend& backend() { return *backend_; }

private:
    void on_kick(int fd, bool receive);
    void on_backend(uint32_t events);
    void after_processing();  // under mutex_
    void stop();              // under mutex_

    VirtioNetOptions options_;
    std::unique_ptr<net::NetBackend> backend_;
    EventLoop& loop_;
    uint64_t features_ = 0;
    std::array<uint16_t, 2> queue_sizes_{256, 256};
    net::NetCounters counters_;

    std::mutex mutex_;
    Activation activation_;
    std::unique_ptr<net::QueuePair> queue_pair_;
    uint32_t backend_interest_ = 0;
};

}  // namespace skiff::virtio
