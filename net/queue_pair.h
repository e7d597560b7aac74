// The in-process virtio-net data path: one receive and one transmit
// virtqueue joined to a packet backend. It runs on the event-loop thread
// only; the owning device serialises it with activation and reset.
//
// Back-pressure, not buffering: a frame is read from the backend only when
// the guest has posted a receive buffer, and at most one frame (the one that
// did not fit the buffers posted so far) waits inside skiff. A frame from the
// guest that the backend cannot take yet stays in the guest's ring until the
// backend's fd is writable.
#pragma once

#include "devices/virtio/queue.h"
#include "devices/virtio/virtio_device.h"
#include "net/backend.h"
#include "vmm/guest_memory.h"

#include <atomic>
#include <cstdint>
#include <functional>
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
};

struct QueuePairOptions {
    uint16_t rx_index = 0;  // queue indices, for interrupts
    uint16_t tx_index = 1;
    bool mergeable_rx_buffers = false;  // VIRTIO_NET_F_MRG_RXBUF negotiated
    // Largest frame (header included) the backend may hand over.
    size_t max_frame = kVnetHeaderSize + 65550;
    // Frames handled per call before returning to the event loop (fairness).
    unsigned batch = 256;
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

private:
    enum class Delivery { Delivered, NoBuffers, Failed };
    Delivery deliver_pending();
    void fail(std::string_view queue, const Error& error);
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
