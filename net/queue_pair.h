// The in-process virtio-net data path: one receive and one transmit
// virtqueue joined to a packet backend. It runs on the event-loop thread
// only; the owning device serialises it with activation and reset.
//
// Back-pressure, not buffering: a frame is read from the backend only when
// the guest has posted a receive buffer, and at most one frame (the one that
// did not fit the buffers posted so far) waits inside skiff. A frame from the
// guest that the backend cannot take yet stays in the guest's ring until the
// backend's fd is writable.
//
// Rate limits delay, they never drop: before a frame moves, the direction's
// RateLimiter is asked for its bytes (without the virtio-net header, one op
// per frame). When it refuses, that direction stops where it is: a transmit
// chain stays in the guest's ring, a received frame stays the one waiting
// inside skiff (and no more is read from the backend). The owner reads how
// long to wait from rx_throttled()/tx_throttled() and calls process_*()
// again after that.
#pragma once

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio_device.h"
#include "net/backend.h"
#include "net/rate_limiter.h"
#include "vmm/guest_memory.h"

#include <atomic>
#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>
#include <vector>

namespace skiff::net {

struct NetCounters {
    std::atomic<uint64_t> rx_packets{0};
    std::atomic<uint64_t> rx_bytes{0};
    std::atomic<uint64_t> rx_dropped{0};
    std::atomic<uint64_t> tx_packets{0};
    std::atomic<uint64_t> tx_bytes{0};
    std::atomic<uint64_t> tx_dropped{0};
    // Times a rate limiter stopped the direction (a frame had to wait).
    std::atomic<uint64_t> rx_throttled{0};
    std::atomic<uint64_t> tx_throttled{0};
};

// The counters' values at one moment, read from any thread.
struct NetCounterValues {
    uint64_t rx_packets = 0;
    uint64_t rx_bytes = 0;
    uint64_t rx_dropped = 0;
    uint64_t tx_packets = 0;
    uint64_t tx_bytes = 0;
    uint64_t tx_dropped = 0;
    uint64_t rx_throttled = 0;
    uint64_t tx_throttled = 0;
};

[[nodiscard]] NetCounterValues read_counters(const NetCounters& counters);

struct QueuePairOptions {
    uint16_t rx_index = 0;  // queue indices, for interrupts
    uint16_t tx_index = 1;
    bool mergeable_rx_buffers = false;  // VIRTIO_NET_F_MRG_RXBUF negotiated
    // Largest frame (header included) the backend may hand over.
    size_t max_frame = kVnetHeaderSize + 65550;
    // Frames handled per call before returning to the event loop (fairness).
    unsigned batch = 256;
    // The interface's limiters (owned by the device, which keeps them across
    // activations and updates them); null: that direction is not limited.
    RateLimiter* rx_limiter = nullptr;  // frames into the guest
    RateLimiter* tx_limiter = nullptr;  // frames from the guest
    // The limiters' time; tests pass a fake one.
    std::function<RateClock::time_point()> clock = [] { return RateClock::now(); };
};

class QueuePair final {
public:
    QueuePair(const GuestMemory& memory, virtio::Queue rx, virtio::Queue tx, NetBackend& backend,
              virtio::VirtioInterrupt& interrupt, NetCounters& counters, QueuePairOptions options,
              std::function<void(std::string_view)> needs_reset);

    // Moves frames from the backend into guest receive buffers until either
    // runs dry (or a batch is done: the caller is told to come back).
    void process_rx();
    // Moves frames from the guest's transmit ring to the backend.
    void process_tx();

    // What the owner should watch on the backend's fd: EPOLLIN while there
    // are receive buffers (or we do not know yet), EPOLLOUT while the
    // backend refused a frame.
    [[nodiscard]] uint32_t backend_interest() const;
    // True when a batch limit stopped processing with work left.
    [[nodiscard]] bool rx_more() const { return rx_more_; }
    [[nodiscard]] bool tx_more() const { return tx_more_; }
    [[nodiscard]] bool failed() const { return failed_; }
    // Set when the last process_rx()/process_tx() stopped at the
    // direction's rate limit: how long until the waiting frame may pass.
    [[nodiscard]] std::optional<RateClock::duration> rx_throttled() const { return rx_throttled_; }
    [[nodiscard]] std::optional<RateClock::duration> tx_throttled() const { return tx_throttled_; }

private:
    enum class Delivery { Delivered, NoBuffers, Throttled, Failed };
    Delivery deliver_pending();
    void fail(std::string_view queue, const Error& error);
    // Asks `limiter` for a frame of `bytes`; on a refusal records how long
    // to wait in `throttled` and counts it.
    bool admit(RateLimiter* limiter, uint64_t bytes, std::optional<RateClock::duration>& throttled,
               std::atomic<uint64_t>& throttled_count);
    // Host iovecs for the descriptors; false if one no longer translates.
    bool gather(std::span<const virtio::Descriptor> descriptors, std::vector<iovec>& iovecs) const;

    const GuestMemory& memory_;
    virtio::Queue rx_;
    virtio::Queue tx_;
    NetBackend& backend_;
    virtio::VirtioInterrupt& interrupt_;
    NetCounters& counters_;
    QueuePairOptions options_;
    std::function<void(std::string_view)> needs_reset_;

    std::vector<std::byte> frame_;  // the one received frame waiting for guest buffers
    size_t frame_length_ = 0;       // 0: none waiting
    bool rx_waiting_for_buffers_ = false;
    bool tx_blocked_ = false;
    bool rx_more_ = false;
    bool tx_more_ = false;
    bool failed_ = false;
    bool backend_failed_ = false;  // receive failed for good
    std::optional<RateClock::duration> rx_throttled_;
    std::optional<RateClock::duration> tx_throttled_;
    // The chain at the head of the transmit ring has been charged to the
    // limiter already (the backend then refused it): not charged twice.
    bool tx_head_paid_ = false;
    virtio::DescriptorChain chain_;
    std::vector<iovec> iovecs_;
    struct RxChain {
        uint16_t head;
        size_t first_descriptor;  // into rx_descriptors_
        size_t descriptor_count;
        uint32_t length;  // bytes written
    };
    std::vector<RxChain> rx_chains_;
    std::vector<virtio::Descriptor> rx_descriptors_;
};

}  // namespace skiff::net
