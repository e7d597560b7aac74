// The virtio-net device, control plane: features, configuration space,
// activation and reset. The data path is either net::QueuePair on the event
// loop (in-process), or the kernel's vhost-net worker (vhost mode: a
// VhostNetBackend given at construction).
//
// vhost mode: the offered ring and transport features are those vhost's
// GET_FEATURES has (the net offload bits stay as the tap allows: the tap
// does them through its vnet header). activate() sets the tap's offloads,
// starts the vrings (vhost_vrings.h) with the transport's kick fds and, as
// call fds, the interrupt's irqfd per queue (virtio-pci's MSI-X vector
// eventfd) or, where the transport must run code on each interrupt
// (virtio-mmio's InterruptStatus), a relay eventfd that the event loop
// turns into signal_queue(); then attaches the tap to both queues
// (VHOST_NET_SET_BACKEND). skiff then polls neither the kick fds nor the
// tap. reset(), a new activation and the destructor detach the tap (fd
// -1), stop the vrings (GET_VRING_BASE) and drop the relays. The packet
// counters are the kernel's own of the tap or macvtap (net/link_counters.h),
// given at construction: skiff sees none of the packets.
//
// Rate limits (in-process only): the device owns an rx and a tx
// net::RateLimiter, kept across resets and activations, that the QueuePair
// asks before it moves a frame. A direction stopped by its limiter gets a
// one-shot timerfd on the event loop; when it fires, that direction is
// processed again (while rx waits, the backend is not polled for input).
// update_rate_limiters() changes the limits from any thread and has a
// waiting direction re-evaluated on the loop at once.
#pragma once

#include "devices/virtio/vhost/vhost_backend.h"
#include "devices/virtio/virtio_device.h"
#include "net/backend.h"
#include "net/link_counters.h"
#include "net/queue_pair.h"
#include "vmm/event_fd.h"
#include "vmm/event_loop.h"
#include "vmm/timer_fd.h"

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace skiff::virtio {

struct VirtioNetOptions {
    std::string name;  // "net0"
    std::array<uint8_t, 6> mac{};
    std::optional<uint16_t> mtu;  // offered as VIRTIO_NET_F_MTU when set
    // Limits on frames into the guest (rx) and from it (tx); the default
    // limits nothing. In-process data path only (vhost mode ignores them:
    // net::check_rate_limiters() refuses that configuration earlier).
    // (Default member initializers: designated initializers may leave them out.)
    net::RateLimiterConfig rx_rate_limiter{};
    net::RateLimiterConfig tx_rate_limiter{};
};

class VirtioNet final : public VirtioDevice {
public:
    // `vhost` null: the in-process data path. Otherwise vhost mode, on
    // `backend`'s fd (a tap); the device owns the vhost session, and its
    // counters are `kernel_counters` (null: zeros; ignored in-process).
    VirtioNet(VirtioNetOptions options, std::unique_ptr<net::NetBackend> backend, EventLoop& loop,
              std::unique_ptr<vhost::VhostNetBackend> vhost = nullptr,
              std::unique_ptr<net::KernelLinkCounters> kernel_counters = nullptr);
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

    // The in-process data path's counters. Atomics: readable from any
    // thread while the loop updates them.
    [[nodiscard]] const net::NetCounters& counters() const { return counters_; }
    // The interface's counters from any thread: in-process, those above;
    // in vhost mode, the kernel's of the backend interface (throttled: 0).
    [[nodiscard]] net::NetCounterValues counter_values() const;
    // New limits at run time, from any thread; an absent one is left as it
    // is. They apply at once with full buckets, and a direction waiting
    // under the old limit is re-evaluated. Fails in vhost mode (the kernel
    // moves the frames; nothing in skiff can hold them back).
    [[nodiscard]] Result<void> update_rate_limiters(std::optional<net::RateLimiterConfig> rx,
                                                    std::optional<net::RateLimiterConfig> tx);
    [[nodiscard]] net::NetBackend& backend() { return *backend_; }
    [[nodiscard]] bool uses_vhost() const { return vhost_ != nullptr; }

private:
    void on_kick(int fd, bool receive);
    void on_backend(uint32_t events);
    void on_rate_timer(bool receive);
    void process_rx();        // under mutex_, with queue_pair_
    void process_tx();        // under mutex_, with queue_pair_
    void after_processing();  // under mutex_
    void stop();              // under mutex_
    [[nodiscard]] Result<void> start_in_process(Activation activation, const net::Offloads& offloads);
    [[nodiscard]] Result<void> start_vhost(Activation activation);  // under mutex_
    void stop_vhost();                                              // under mutex_
    void on_relay(uint16_t queue_index);

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
    // False once the backend hung up (tap deleted): no longer polled, the
    // link reported down. Atomic: read_config() runs on vCPU threads.
    std::atomic<bool> link_up_{true};
    net::RateLimiter rx_limiter_;
    net::RateLimiter tx_limiter_;
    // In-process: per direction, armed while its limiter holds it back;
    // created at the first activation, on the loop while activated.
    std::optional<TimerFd> rx_timer_;
    std::optional<TimerFd> tx_timer_;

    // vhost mode.
    std::unique_ptr<vhost::VhostNetBackend> vhost_;
    std::unique_ptr<net::KernelLinkCounters> kernel_counters_;
    uint64_t vhost_features_ = 0;  // its GET_FEATURES
    bool vhost_running_ = false;   // vrings started (tap attached or not)
    // Per queue: the relay eventfd registered on the loop, if the queue uses one.
    std::vector<std::optional<EventFd>> relays_;
};

}  // namespace skiff::virtio
