#include "devices/virtio/net/virtio_net.h"

#include "devices/virtio/net/features.h"

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

}  // namespace

VirtioNet::VirtioNet(VirtioNetOptions options, std::unique_ptr<net::NetBackend> backend, EventLoop& loop)
    : options_(std::move(options)), backend_(std::move(backend)), loop_(loop),
      features_(offered_features(options_, backend_->supported_offloads())) {}

VirtioNet::~VirtioNet() {
    std::lock_guard lock(mutex_);
    stop();
}

uint32_t VirtioNet::config_size() const { return net_config::kSize; }

void VirtioNet::read_config(uint64_t offset, std::span<uint8_t> data) const {
    std::array<uint8_t, net_config::kSize> config{};
    std::copy(options_.mac.begin(), options_.mac.end(), config.begin() + net_config::kMacOffset);
    uint16_t status = net_config::kLinkUp;
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
    spdlog::debug("{}: ignored a {}-byte configuration write at {}", options_.name, data.size(), offset);
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

    net::QueuePairOptions pair;
    pair.mergeable_rx_buffers = has_feature(features, net_feature::kMrgRxbuf);
    bool large_frames = offloads.tso4 || offloads.tso6;
    pair.max_frame = net::kVnetHeaderSize + (large_frames ? 65550 : 14 + 4 + options_.mtu.value_or(1500));
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
    if (registered.ok()) {
        backend_interest_ = queue_pair_->backend_interest();
        registered = loop_.add(backend_->fd(), backend_interest_, [this](uint32_t events) { on_backend(events); });
    }
    if (!registered.ok()) {
        stop();
        return registered.error().context(options_.name);
    }
    spdlog::debug("{}: activated (features {:#x}, mergeable rx buffers {}, rx offloads csum {} tso4 {} tso6 {})",
                  options_.name, features, pair.mergeable_rx_buffers, offloads.checksum, offloads.tso4,
                  offloads.tso6);
    return {};
}

void VirtioNet::reset() {
    std::lock_guard lock(mutex_);
    stop();
}

void VirtioNet::stop() {
    if (!queue_pair_) {
        return;
    }
    loop_.remove(backend_->fd());
    for (const ActivatedQueue& queue : activation_.queues) {
        loop_.remove(queue.kick_fd);
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
        queue_pair_->process_rx();
    } else {
        queue_pair_->process_tx();
    }
    after_processing();
}

void VirtioNet::on_backend(uint32_t events) {
    std::lock_guard lock(mutex_);
    if (!queue_pair_) {
        return;
    }
    if (events & (EPOLLERR | EPOLLHUP)) {
        spdlog::error("{}: backend {} reported an error or hang-up: the interface stops moving packets",
                      options_.name, backend_->name());
        loop_.remove(backend_->fd());
        backend_interest_ = 0;
        return;
    }
    if (events & EPOLLOUT) {
        queue_pair_->process_tx();
    }
    if (events & EPOLLIN) {
        queue_pair_->process_rx();
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
    if (interest != backend_interest_) {
        backend_interest_ = interest;
        auto modified = loop_.modify(backend_->fd(), interest);
        if (!modified.ok()) {
            spdlog::error("{}: {}", options_.name, modified.error().message);
        }
    }
}

}  // namespace skiff::virtio
