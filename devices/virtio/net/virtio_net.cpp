#include "devices/virtio/net/virtio_net.h"

#include "devices/virtio/net/features.h"
#include "devices/virtio/vhost/vhost_vrings.h"
#include "net/net_config.h"
#include "vmm/log_limit.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace skiff::virtio {

namespace {

uint64_t offered_features(const VirtioNetOptions& options, const net::Offloads& offloads) {
    uint64_t features = feature_bit(feature::kVersion1) | feature_bit(feature::kRingEventIdx) |
                        feature_bit(feature::kRingIndirectDesc) | feature_bit(net_feature::kMac) |
                        feature_bit(net_feature::kStatus) | feature_bit(net_feature::kMrgRxbuf);
    // Transmit offloads: the tap takes partial checksums and GSO frames
    // through its vnet header whatever TUNSETOFFLOAD says.
    features |= feature_bit(net_feature::kCsum) | feature_bit(net_feature::kHostTso4) |
                feature_bit(net_feature::kHostTso6);
    // Receive offloads only where the backend can produce them.
    if (offloads.checksum) {
        features |= feature_bit(net_feature::kGuestCsum);
        if (offloads.tso4) {
            features |= feature_bit(net_feature::kGuestTso4);
        }
        if (offloads.tso6) {
            features |= feature_bit(net_feature::kGuestTso6);
        }
    }
    if (options.mtu) {
        features |= feature_bit(net_feature::kMtu);
    }
    return features;
}

// The bits whose implementation is the data path's: the transport and ring
// range (VIRTIO 1.2, 6: bits 24 to 41) and mergeable receive buffers. In
// vhost mode only those vhost has may be offered.
constexpr uint64_t kDataPathFeatures =
    (((uint64_t{1} << 42) - 1) & ~((uint64_t{1} << 24) - 1)) | feature_bit(net_feature::kMrgRxbuf);

uint64_t vhost_offered_features(uint64_t offered, uint64_t vhost_features) {
    return (offered & ~kDataPathFeatures) | (offered & kDataPathFeatures & vhost_features);
}

constexpr uint16_t kReceiveQueue = 0;
constexpr uint16_t kTransmitQueue = 1;

}  // namespace

VirtioNet::VirtioNet(VirtioNetOptions options, std::unique_ptr<net::NetBackend> backend, EventLoop& loop,
                     std::unique_ptr<vhost::VhostNetBackend> vhost,
                     std::unique_ptr<net::KernelLinkCounters> kernel_counters)
    : options_(std::move(options)), backend_(std::move(backend)), loop_(loop),
      features_(offered_features(options_, backend_->supported_offloads())),
      rx_limiter_(options_.rx_rate_limiter), tx_limiter_(options_.tx_rate_limiter), vhost_(std::move(vhost)),
      kernel_counters_(vhost_ ? std::move(kernel_counters) : nullptr) {
    if (vhost_ && (net::limits_rate(options_.rx_rate_limiter) || net::limits_rate(options_.tx_rate_limiter))) {
        spdlog::warn("{}: rate limits ignored: vhost-net moves this interface's frames", options_.name);
    }
    if (vhost_) {
        auto features = vhost_->get_features();
        if (features.ok()) {
            vhost_features_ = *features;
        } else {
            // Without VERSION_1 the transports refuse FEATURES_OK: the
            // guest sees a device it cannot drive, and the log says why.
            spdlog::error("{}: {}", options_.name, features.error().message);
        }
        features_ = vhost_offered_features(features_, vhost_features_);
        spdlog::debug("{}: vhost-net offers {:#x}; the device offers {:#x}", options_.name, vhost_features_,
                      features_);
    }
}

VirtioNet::~VirtioNet() {
    std::lock_guard lock(mutex_);
    stop();
}

net::NetCounterValues VirtioNet::counter_values() const {
    if (vhost_) {
        return kernel_counters_ ? kernel_counters_->read() : net::NetCounterValues{};
    }
    return net::read_counters(counters_);
}

uint32_t VirtioNet::config_size() const { return net_config::kSize; }

void VirtioNet::read_config(uint64_t offset, std::span<uint8_t> data) const {
    std::array<uint8_t, net_config::kSize> config{};
    std::copy(options_.mac.begin(), options_.mac.end(), config.begin() + net_config::kMacOffset);
    uint16_t status = link_up_.load(std::memory_order_relaxed) ? net_config::kLinkUp : 0;
    uint16_t pairs = 1;
    uint16_t mtu = options_.mtu.value_or(0);
    std::memcpy(config.data() + net_config::kStatusOffset, &status, 2);
    std::memcpy(config.data() + net_config::kMaxPairsOffset, &pairs, 2);
    std::memcpy(config.data() + net_config::kMtuOffset, &mtu, 2);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = offset + i < config.size() ? config[offset + i] : 0;
    }
}

void VirtioNet::write_config(uint64_t offset, std::span<const uint8_t> data) {
    // The MAC is writable only with VIRTIO_NET_F_CTRL_MAC_ADDR's legacy
    // path, which skiff does not offer: ignore, as the specification allows.
    SKIFF_DEBUG_LIMITED("{}: ignored a {}-byte configuration write at {}", options_.name, data.size(), offset);
}

bool VirtioNet::accept_features(uint64_t features) {
    // A driver must not take a feature without the one it depends on
    // (VIRTIO 1.2, 5.1.3.1).
    auto needs = [features](unsigned feature, unsigned dependency) {
        return !has_feature(features, feature) || has_feature(features, dependency);
    };
    return needs(net_feature::kGuestTso4, net_feature::kGuestCsum) &&
           needs(net_feature::kGuestTso6, net_feature::kGuestCsum) &&
           needs(net_feature::kHostTso4, net_feature::kCsum) && needs(net_feature::kHostTso6, net_feature::kCsum);
}

Result<void> VirtioNet::activate(Activation activation) {
    std::lock_guard lock(mutex_);
    stop();
    if (activation.queues.size() != 2) {
        return Error{fmt::format("{}: the driver enabled {} queues; this device needs receive and transmit",
                                 options_.name, activation.queues.size())};
    }
    uint64_t features = activation.features;
    net::Offloads offloads;
    offloads.checksum = has_feature(features, net_feature::kGuestCsum);
    offloads.tso4 = has_feature(features, net_feature::kGuestTso4);
    offloads.tso6 = has_feature(features, net_feature::kGuestTso6);
    TRY(backend_->set_offloads(offloads).context_error(options_.name));
    if (vhost_) {
        return start_vhost(std::move(activation));
    }
    return start_in_process(std::move(activation), offloads);
}

Result<void> VirtioNet::start_in_process(Activation activation, const net::Offloads& offloads) {
    uint64_t features = activation.features;
    net::QueuePairOptions pair;
    pair.mergeable_rx_buffers = has_feature(features, net_feature::kMrgRxbuf);
    bool large_frames = offloads.tso4 || offloads.tso6;
    pair.max_frame = net::kVnetHeaderSize + (large_frames ? 65550 : 14 + 4 + options_.mtu.value_or(1500));
    pair.rx_limiter = &rx_limiter_;
    pair.tx_limiter = &tx_limiter_;
    for (std::optional<TimerFd>* timer : {&rx_timer_, &tx_timer_}) {
        if (!*timer) {
            auto created = TimerFd::create();
            if (!created.ok()) {
                return created.error().context(options_.name);
            }
            timer->emplace(std::move(created).value());
        }
    }
    activation_ = std::move(activation);
    queue_pair_ = std::make_unique<net::QueuePair>(
        *activation_.memory, std::move(activation_.queues[0].queue), std::move(activation_.queues[1].queue),
        *backend_, *activation_.interrupt, counters_, pair, activation_.needs_reset);

    int rx_kick = activation_.queues[0].kick_fd;
    int tx_kick = activation_.queues[1].kick_fd;
    auto registered = loop_.add(rx_kick, EPOLLIN, [this, rx_kick](uint32_t) { on_kick(rx_kick, true); });
    if (registered.ok()) {
        registered = loop_.add(tx_kick, EPOLLIN, [this, tx_kick](uint32_t) { on_kick(tx_kick, false); });
    }
    if (registered.ok() && link_up_.load(std::memory_order_relaxed)) {
        backend_interest_ = queue_pair_->backend_interest();
        registered = loop_.add(backend_->fd(), backend_interest_, [this](uint32_t events) { on_backend(events); });
    }
    if (registered.ok()) {
        registered = loop_.add(rx_timer_->fd(), EPOLLIN, [this](uint32_t) { on_rate_timer(true); });
    }
    if (registered.ok()) {
        registered = loop_.add(tx_timer_->fd(), EPOLLIN, [this](uint32_t) { on_rate_timer(false); });
    }
    if (!registered.ok()) {
        stop();
        return registered.error().context(options_.name);
    }
    SKIFF_DEBUG_LIMITED("{}: activated (features {:#x}, mergeable rx buffers {}, rx offloads csum {} tso4 {} tso6 {})",
                        options_.name, features, pair.mergeable_rx_buffers, offloads.checksum, offloads.tso4,
                        offloads.tso6);
    return {};
}

Result<void> VirtioNet::start_vhost(Activation activation) {
    activation_ = std::move(activation);
    vhost_running_ = true;  // from here on, stop_vhost() undoes whatever was done
    relays_.clear();
    relays_.resize(activation_.queues.size());
    auto fail = [this](const Error& error) {
        stop_vhost();
        return error.context(options_.name);
    };
    std::vector<vhost::VringSetup> setups;
    for (uint16_t index = 0; index < activation_.queues.size(); ++index) {
        const ActivatedQueue& queue = activation_.queues[index];
        int call_fd = activation_.interrupt->queue_irqfd(index);
        if (call_fd < 0) {
            auto relay = EventFd::create();
            if (!relay.ok()) {
                return fail(relay.error());
            }
            call_fd = relay->fd();
            relays_[index] = std::move(relay).value();
            auto added = loop_.add(call_fd, EPOLLIN, [this, index](uint32_t) { on_relay(index); });
            if (!added.ok()) {
                relays_[index].reset();
                return fail(added.error());
            }
        }
        setups.push_back(vhost::VringSetup{.index = index,
                                           .config = queue.queue.config(),
                                           .next_available = queue.queue.next_available(),
                                           .kick_fd = queue.kick_fd,
                                           .call_fd = call_fd});
    }
    auto started = vhost::start_vrings(*vhost_, *activation_.memory, activation_.features, vhost_features_, setups);
    if (!started.ok()) {
        return fail(started.error());
    }
    for (uint16_t index : {kReceiveQueue, kTransmitQueue}) {
        auto attached = vhost_->net_set_backend(index, backend_->fd());
        if (!attached.ok()) {
            return fail(attached.error());
        }
    }
    SKIFF_DEBUG_LIMITED("{}: vhost-net activated (features {:#x}, call fds: rx {}, tx {})", options_.name,
                        activation_.features, setups[0].call_fd, setups[1].call_fd);
    return {};
}

void VirtioNet::stop_vhost() {
    if (!vhost_running_) {
        return;
    }
    vhost_running_ = false;
    // Detaching the tap stops the worker on that queue; GET_VRING_BASE then
    // stops the ring itself. Errors here leave nothing to undo: log them.
    for (uint16_t index : {kReceiveQueue, kTransmitQueue}) {
        auto detached = vhost_->net_set_backend(index, -1);
        if (!detached.ok()) {
            SKIFF_WARN_LIMITED("{}: {}", options_.name, detached.error().message);
        }
    }
    std::vector<uint32_t> indices;
    for (uint32_t index = 0; index < activation_.queues.size(); ++index) {
        indices.push_back(index);
    }
    auto stopped = vhost::stop_vrings(*vhost_, indices);
    if (!stopped.ok()) {
        SKIFF_WARN_LIMITED("{}: {}", options_.name, stopped.error().message);
    } else {
        SKIFF_DEBUG_LIMITED("{}: vhost-net stopped at available index rx {} tx {}", options_.name,
                            stopped->empty() ? 0 : (*stopped)[0], stopped->size() < 2 ? 0 : (*stopped)[1]);
    }
    for (std::optional<EventFd>& relay : relays_) {
        if (relay) {
            loop_.remove(relay->fd());
        }
    }
    relays_.clear();
    activation_ = Activation{};
}

void VirtioNet::on_relay(uint16_t queue_index) {
    std::lock_guard lock(mutex_);
    // A handler removed while the loop was dispatching may still run once.
    if (!vhost_running_ || queue_index >= relays_.size() || !relays_[queue_index]) {
        return;
    }
    if (relays_[queue_index]->consume() != 0) {
        activation_.interrupt->signal_queue(queue_index);
    }
}

void VirtioNet::reset() {
    std::lock_guard lock(mutex_);
    stop();
}

void VirtioNet::stop() {
    if (vhost_) {
        stop_vhost();
        return;
    }
    if (!queue_pair_) {
        return;
    }
    loop_.remove(backend_->fd());
    for (const ActivatedQueue& queue : activation_.queues) {
        loop_.remove(queue.kick_fd);
    }
    for (std::optional<TimerFd>* timer : {&rx_timer_, &tx_timer_}) {
        if (*timer) {
            loop_.remove((*timer)->fd());
            (*timer)->disarm();  // a new activation starts with no direction waiting
        }
    }
    queue_pair_.reset();
    activation_ = Activation{};
}

void VirtioNet::on_kick(int fd, bool receive) {
    uint64_t count = 0;
    [[maybe_unused]] ssize_t got = ::read(fd, &count, sizeof(count));
    std::lock_guard lock(mutex_);
    if (!queue_pair_) {
        return;
    }
    if (receive) {
        process_rx();
    } else {
        process_tx();
    }
    after_processing();
}

void VirtioNet::on_rate_timer(bool receive) {
    std::lock_guard lock(mutex_);
    std::optional<TimerFd>& timer = receive ? rx_timer_ : tx_timer_;
    // Stale after a reset (a handler removed mid-dispatch runs once more):
    // then the timer was disarmed and queue_pair_ may be gone or new.
    if (!queue_pair_ || !timer || timer->consume() == 0) {
        return;
    }
    if (receive) {
        process_rx();
    } else {
        process_tx();
    }
    after_processing();
}

namespace {

// Arms `timer` for a direction its limiter holds back; disarms it when
// the direction moved freely.
void follow_throttle(TimerFd& timer, std::optional<net::RateClock::duration> wait) {
    if (wait) {
        timer.arm(std::chrono::duration_cast<std::chrono::nanoseconds>(*wait));
    } else if (timer.armed()) {
        timer.disarm();
    }
}

}  // namespace

void VirtioNet::process_rx() {
    queue_pair_->process_rx();
    follow_throttle(*rx_timer_, queue_pair_->rx_throttled());
}

void VirtioNet::process_tx() {
    queue_pair_->process_tx();
    follow_throttle(*tx_timer_, queue_pair_->tx_throttled());
}

Result<void> VirtioNet::update_rate_limiters(std::optional<net::RateLimiterConfig> rx,
                                             std::optional<net::RateLimiterConfig> tx) {
    std::lock_guard lock(mutex_);
    if (vhost_ && (rx || tx)) {
        return Error{fmt::format("{}: cannot change its rate limiters: vhost-net moves its frames in the kernel, "
                                 "which skiff cannot hold back (use mode=tap, or macvtap with vhost=off)",
                                 options_.name)};
    }
    net::RateClock::time_point now = net::RateClock::now();
    auto apply = [&](const std::optional<net::RateLimiterConfig>& config, net::RateLimiter& limiter,
                     std::optional<TimerFd>& timer) {
        if (!config) {
            return;
        }
        limiter.update(*config, now);
        // A direction waiting under the old limit: its timer fires now, and
        // the loop thread tries it against the new one.
        if (queue_pair_ && timer && timer->armed()) {
            timer->arm(std::chrono::nanoseconds(1));
        }
    };
    apply(rx, rx_limiter_, rx_timer_);
    apply(tx, tx_limiter_, tx_timer_);
    spdlog::debug("{}: rate limiters updated (rx {}, tx {})", options_.name, rx ? "new" : "unchanged",
                  tx ? "new" : "unchanged");
    return {};
}

void VirtioNet::on_backend(uint32_t events) {
    std::lock_guard lock(mutex_);
    if (!queue_pair_) {
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        // The tap was deleted (or its fd broke): the guest's link is down
        // for good. The guest learns it from the status field and a
        // configuration change interrupt; frames it still sends are
        // dropped and counted.
        spdlog::error("{}: backend {} reported an error or hang-up: the link is down, the interface stops moving "
                      "packets",
                      options_.name, backend_->name());
        loop_.remove(backend_->fd());
        backend_interest_ = 0;
        if (link_up_.exchange(false)) {
            activation_.interrupt->signal_config();
        }
        return;
    }
    if (events & EPOLLOUT) {
        process_tx();
    }
    if (events & EPOLLIN) {
        process_rx();
    }
    after_processing();
}

void VirtioNet::after_processing() {
    if (queue_pair_->tx_more()) {
        // Come back after the other fds had their turn.
        uint64_t one = 1;
        [[maybe_unused]] ssize_t written = ::write(activation_.queues[1].kick_fd, &one, sizeof(one));
    }
    if (queue_pair_->rx_more()) {
        uint64_t one = 1;
        [[maybe_unused]] ssize_t written = ::write(activation_.queues[0].kick_fd, &one, sizeof(one));
    }
    uint32_t interest = queue_pair_->backend_interest();
    if (interest != backend_interest_ && link_up_.load(std::memory_order_relaxed)) {
        backend_interest_ = interest;
        auto modified = loop_.modify(backend_->fd(), interest);
        if (!modified.ok()) {
            spdlog::error("{}: {}", options_.name, modified.error().message);
        }
    }
}

}  // namespace skiff::virtio
