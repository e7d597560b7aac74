#include "net/queue_pair.h"

#include "vmm/log_limit.h"

#include <sys/epoll.h>

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>

namespace skiff::net {

namespace {

// Most buffers one frame may be gathered from (the kernel's UIO_MAXIOV).
constexpr size_t kMaxIovecs = 1024;
constexpr size_t kNumBuffersOffset = 10;  // virtio_net_hdr_v1.num_buffers

}  // namespace

NetCounterValues read_counters(const NetCounters& counters) {
    constexpr auto kOrder = std::memory_order_relaxed;
    return NetCounterValues{.rx_packets = counters.rx_packets.load(kOrder),
                            .rx_bytes = counters.rx_bytes.load(kOrder),
                            .rx_dropped = counters.rx_dropped.load(kOrder),
                            .tx_packets = counters.tx_packets.load(kOrder),
                            .tx_bytes = counters.tx_bytes.load(kOrder),
                            .tx_dropped = counters.tx_dropped.load(kOrder),
                            .rx_throttled = counters.rx_throttled.load(kOrder),
                            .tx_throttled = counters.tx_throttled.load(kOrder)};
}

QueuePair::QueuePair(const GuestMemory& memory, virtio::Queue rx, virtio::Queue tx, NetBackend& backend,
                     virtio::VirtioInterrupt& interrupt, NetCounters& counters, QueuePairOptions options,
                     std::function<void(std::string_view)> needs_reset)
    : memory_(memory), rx_(std::move(rx)), tx_(std::move(tx)), backend_(backend), interrupt_(interrupt),
      counters_(counters), options_(options), needs_reset_(std::move(needs_reset)) {
    frame_.resize(options_.max_frame);
    iovecs_.reserve(64);
}

void QueuePair::fail(std::string_view queue, const Error& error) {
    if (failed_) {
        return;
    }
    failed_ = true;
    needs_reset_(fmt::format("{} queue: {}", queue, error.message));
}

bool QueuePair::admit(RateLimiter* limiter, uint64_t bytes, std::optional<RateClock::duration>& throttled,
                      std::atomic<uint64_t>& throttled_count) {
    if (limiter == nullptr || limiter->unlimited()) {
        return true;
    }
    RateClock::time_point now = options_.clock();
    if (limiter->try_consume(bytes, now)) {
        return true;
    }
    throttled = limiter->time_until_ready(bytes, now);
    throttled_count.fetch_add(1, std::memory_order_relaxed);
    return false;
}

bool QueuePair::gather(std::span<const virtio::Descriptor> descriptors, std::vector<iovec>& iovecs) const {
    iovecs.clear();
    for (const virtio::Descriptor& descriptor : descriptors) {
        auto slice = memory_.slice(descriptor.address, descriptor.length);
        if (!slice.ok()) {
            return false;
        }
        iovecs.push_back(iovec{slice.value().data(), slice.value().size()});
    }
    return true;
}

uint32_t QueuePair::backend_interest() const {
    if (failed_) {
        return 0;
    }
    uint32_t interest = 0;
    // A throttled frame is the one waiting (frame_length_ != 0): no more
    // is read until it has passed.
    if (!rx_waiting_for_buffers_ && frame_length_ == 0 && !backend_failed_ && !rx_throttled_) {
        interest |= EPOLLIN;
    }
    if (tx_blocked_) {
        interest |= EPOLLOUT;
    }
    return interest;
}

void QueuePair::process_tx() {
    tx_more_ = false;
    tx_blocked_ = false;
    tx_throttled_.reset();
    if (failed_) {
        return;
    }
    bool used = false;
    tx_.disable_notification();
    for (unsigned done = 0;; ++done) {
        if (done == options_.batch) {
            tx_more_ = true;
            break;
        }
        auto popped = tx_.pop(memory_, chain_);
        if (!popped.ok()) {
            fail("transmit", popped.error());
            break;
        }
        if (!popped.value()) {
            if (tx_.enable_notification()) {
                tx_.disable_notification();
                continue;
            }
            break;
        }
        uint64_t bytes = chain_.readable_bytes();
        bool valid = chain_.writable().empty() && bytes >= kVnetHeaderSize && bytes <= options_.max_frame &&
                     chain_.readable().size() <= kMaxIovecs && gather(chain_.readable(), iovecs_);
        if (!valid) {
            SKIFF_WARN_LIMITED("{}: dropped a transmit chain of {} readable and {} writable bytes", backend_.name(),
                               bytes, chain_.writable_bytes());
            counters_.tx_dropped.fetch_add(1, std::memory_order_relaxed);
            tx_.add_used(chain_.head(), 0);
            used = true;
            continue;
        }
        if (!tx_head_paid_ &&
            !admit(options_.tx_limiter, bytes - kVnetHeaderSize, tx_throttled_, counters_.tx_throttled)) {
            tx_.undo_pop(1);  // stays in the guest's ring until the limiter lets it pass
            break;
        }
        tx_head_paid_ = false;
        auto sent = backend_.send(iovecs_);
        if (sent.ok() && sent.value() == IoResult::WouldBlock) {
            tx_.undo_pop(1);  // stays in the guest's ring until the backend drains
            tx_blocked_ = true;
            tx_head_paid_ = true;
            break;
        }
        if (!sent.ok()) {
            SKIFF_WARN_LIMITED("{}: frame dropped: {}", backend_.name(), sent.error().message);
            counters_.tx_dropped.fetch_add(1, std::memory_order_relaxed);
        } else {
            counters_.tx_packets.fetch_add(1, std::memory_order_relaxed);
            counters_.tx_bytes.fetch_add(bytes - kVnetHeaderSize, std::memory_order_relaxed);
        }
        tx_.add_used(chain_.head(), 0);
        used = true;
    }
    if (used && tx_.needs_notification()) {
        interrupt_.signal_queue(options_.tx_index);
    }
}

void QueuePair::process_rx() {
    rx_more_ = false;
    rx_waiting_for_buffers_ = false;
    rx_throttled_.reset();
    if (failed_ || backend_failed_) {
        return;
    }
    bool used = false;
    rx_.disable_notification();
    for (unsigned done = 0;; ++done) {
        if (done == options_.batch) {
            rx_more_ = true;
            break;
        }
        if (frame_length_ == 0) {
            // Read a frame only when the guest has somewhere to put it.
            auto available = rx_.has_available(memory_);
            if (!available.ok()) {
                fail("receive", available.error());
                break;
            }
            if (!available.value()) {
                if (rx_.enable_notification()) {
                    continue;
                }
                rx_waiting_for_buffers_ = true;
                break;
            }
            size_t received = 0;
            iovec buffer{frame_.data(), frame_.size()};
            auto status = backend_.receive(std::span<const iovec>(&buffer, 1), received);
            if (!status.ok()) {
                // The backend is gone (a deleted tap): stop polling it, or
                // its fd would wake the loop forever.
                spdlog::error("{}: receive failed, no more frames for the guest: {}", backend_.name(),
                              status.error().message);
                backend_failed_ = true;
                break;
            }
            if (status.value() == IoResult::WouldBlock) {
                break;
            }
            if (received < kVnetHeaderSize) {
                counters_.rx_dropped.fetch_add(1, std::memory_order_relaxed);
                continue;
            }
            frame_length_ = received;
        }
        uint16_t published = rx_.published();
        Delivery delivery = deliver_pending();
        if (delivery == Delivery::Failed || delivery == Delivery::Throttled) {
            break;  // throttled: the frame stays waiting in frame_
        }
        if (delivery == Delivery::NoBuffers) {
            // The buffers posted so far are too few for this frame: wait for
            // more, not for the ones just given back.
            if (rx_.enable_notification_beyond(published)) {
                continue;
            }
            rx_waiting_for_buffers_ = true;
            break;
        }
        used = true;
    }
    if (used && rx_.needs_notification()) {
        interrupt_.signal_queue(options_.rx_index);
    }
}

QueuePair::Delivery QueuePair::deliver_pending() {
    // Pop receive chains until they can hold the frame (one chain without
    // MRG_RXBUF), then copy the frame across them.
    rx_chains_.clear();
    rx_descriptors_.clear();
    uint64_t capacity = 0;
    while (capacity < frame_length_) {
        auto popped = rx_.pop(memory_, chain_);
        if (!popped.ok()) {
            fail("receive", popped.error());
            return Delivery::Failed;
        }
        if (!popped.value()) {
            rx_.undo_pop(static_cast<uint16_t>(rx_chains_.size()));
            return Delivery::NoBuffers;
        }
        rx_chains_.push_back(RxChain{chain_.head(), rx_descriptors_.size(), chain_.writable().size(), 0});
        rx_descriptors_.insert(rx_descriptors_.end(), chain_.writable().begin(), chain_.writable().end());
        capacity += chain_.writable_bytes();
        if (!options_.mergeable_rx_buffers || rx_chains_.size() == rx_.size()) {
            break;
        }
    }
    if (capacity < frame_length_) {
        SKIFF_WARN_LIMITED("{}: dropped a {}-byte frame: the guest's receive buffers hold {} bytes", backend_.name(),
                           frame_length_, capacity);
        counters_.rx_dropped.fetch_add(1, std::memory_order_relaxed);
        for (const RxChain& chain : rx_chains_) {
            rx_.add_used(chain.head, 0);
        }
        frame_length_ = 0;
        return Delivery::Delivered;
    }
    if (!admit(options_.rx_limiter, frame_length_ - kVnetHeaderSize, rx_throttled_, counters_.rx_throttled)) {
        rx_.undo_pop(static_cast<uint16_t>(rx_chains_.size()));
        return Delivery::Throttled;
    }
    uint16_t buffers = static_cast<uint16_t>(rx_chains_.size());
    std::memcpy(frame_.data() + kNumBuffersOffset, &buffers, sizeof(buffers));
    size_t offset = 0;
    for (RxChain& chain : rx_chains_) {
        for (size_t i = 0; i < chain.descriptor_count && offset < frame_length_; ++i) {
            const virtio::Descriptor& descriptor = rx_descriptors_[chain.first_descriptor + i];
            size_t count = std::min<size_t>(descriptor.length, frame_length_ - offset);
            auto written = memory_.write(descriptor.address, std::span<const std::byte>(frame_.data() + offset, count));
            if (!written.ok()) {
                fail("receive", written.error());
                return Delivery::Failed;
            }
            offset += count;
            chain.length += static_cast<uint32_t>(count);
        }
    }
    for (const RxChain& chain : rx_chains_) {
        rx_.add_used(chain.head, chain.length);
    }
    counters_.rx_packets.fetch_add(1, std::memory_order_relaxed);
    counters_.rx_bytes.fetch_add(frame_length_ - kVnetHeaderSize, std::memory_order_relaxed);
    frame_length_ = 0;
    return Delivery::Delivered;
}

}  // namespace skiff::net
