#include "net/link_counters.h"

#include "net/interface.h"
#include "net/mac_address.h"
#include "vmm/log_limit.h"

#include <fcntl.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <optional>

namespace skiff::net {

namespace {

// A sysfs attribute's text from offset 0, without the trailing newline.
std::optional<std::string> read_text(int fd) {
    char text[64];
    ssize_t length = ::pread(fd, text, sizeof(text), 0);
    if (length <= 0) {
        return std::nullopt;
    }
    std::string_view view(text, static_cast<size_t>(length));
    while (!view.empty() && (view.back() == '\n' || view.back() == ' ')) {
        view.remove_suffix(1);
    }
    return std::string(view);
}

std::optional<uint64_t> parse_decimal(std::string_view text) {
    uint64_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc{} || text.empty() || end != text.data() + text.size()) {
        return std::nullopt;
    }
    return value;
}

std::optional<uint64_t> read_decimal(int fd) {
    auto text = read_text(fd);
    return text ? parse_decimal(*text) : std::nullopt;
}

// Opens `path` for reading; on failure, why ("...: No such file or directory").
UniqueFd open_attribute(const std::string& path, std::string& failure) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        failure = fmt::format("{}: {}", path, std::strerror(errno));
    }
    return fd;
}

constexpr std::string_view kFix = "mount sysfs for skiff's network namespace on /sys (`ip netns exec` does)";

}  // namespace

std::unique_ptr<KernelLinkCounters> KernelLinkCounters::open(const std::string& interface, LinkKind kind,
                                                             std::string_view device, std::string_view sysfs_net) {
    std::unique_ptr<KernelLinkCounters> counters(new KernelLinkCounters(interface, kind));
    const std::string directory = fmt::format("{}/{}", sysfs_net, interface);
    auto give_up = [&](std::string_view why) {
        spdlog::warn("{}: packet counters will read zero: {}", device, why);
        for (UniqueFd& file : counters->files_) {
            file.reset();
        }
        return std::move(counters);
    };

    // The directory must be this namespace's interface of that name.
    std::string failure;
    UniqueFd index_file = open_attribute(directory + "/ifindex", failure);
    UniqueFd address_file = index_file.valid() ? open_attribute(directory + "/address", failure) : UniqueFd();
    if (!index_file.valid() || !address_file.valid()) {
        return give_up(fmt::format("{}: /sys does not show '{}': {}", failure, interface, kFix));
    }
    std::optional<uint64_t> sysfs_index = read_decimal(index_file.get());
    std::optional<std::string> sysfs_address = read_text(address_file.get());
    // Index and MAC of skiff's interface, from one RTM_GETLINK.
    auto real = find_link(interface);
    if (!real.ok() || !real->has_value() || !(*real)->mac) {
        return give_up(fmt::format("interface '{}' not found in skiff's network namespace", interface));
    }
    unsigned real_index = (*real)->index;
    const MacAddress& real_mac = *(*real)->mac;
    if (!sysfs_index || *sysfs_index != real_index || !sysfs_address || *sysfs_address != real_mac.to_string()) {
        return give_up(fmt::format("{} is another network namespace's interface (ifindex {}, MAC {}; skiff's '{}' has "
                                   "ifindex {}, MAC {}): {}",
                                   directory, sysfs_index ? std::to_string(*sysfs_index) : std::string("?"),
                                   sysfs_address.value_or("?"), interface, real_index, real_mac.to_string(), kFix));
    }

    for (size_t i = 0; i < kCount; ++i) {
        counters->files_[i] = open_attribute(fmt::format("{}/statistics/{}", directory, kFileNames[i]), failure);
        if (!counters->files_[i].valid()) {
            return give_up(failure);
        }
        std::optional<uint64_t> value = read_decimal(counters->files_[i].get());
        if (!value) {
            return give_up(fmt::format("{}/statistics/{}: not a decimal number", directory, kFileNames[i]));
        }
        counters->baseline_[i] = *value;
        counters->last_[i].store(*value, std::memory_order_relaxed);
    }
    counters->available_ = true;
    spdlog::debug("{}: packet counters from {}/statistics ({} counting)", device, directory,
                  kind == LinkKind::Tap ? "tap" : "macvtap");
    return counters;
}

uint64_t KernelLinkCounters::since_open(size_t statistic) const {
    uint64_t value = last_[statistic].load(std::memory_order_relaxed);
    if (std::optional<uint64_t> now = read_decimal(files_[statistic].get())) {
        value = *now;
        last_[statistic].store(value, std::memory_order_relaxed);
    } else {
        SKIFF_WARN_LIMITED("{}: reading its statistics/{} failed; the counter keeps its last value", interface_,
                           kFileNames[statistic]);
    }
    // Kernel counters only grow while the interface lives (it cannot go
    // while skiff holds its fd); saturate all the same.
    return value >= baseline_[statistic] ? value - baseline_[statistic] : 0;
}

NetCounterValues KernelLinkCounters::read() const {
    if (!available_) {
        return {};
    }
    NetCounterValues values;
    // Received and transmitted as the interface counts them.
    uint64_t received = since_open(RxPackets);
    uint64_t received_bytes = since_open(RxBytes);
    uint64_t received_dropped = since_open(RxDropped);
    uint64_t frame_errors = since_open(RxFrameErrors);
    uint64_t sent = since_open(TxPackets);
    uint64_t sent_bytes = since_open(TxBytes);
    uint64_t sent_dropped = since_open(TxDropped);
    switch (kind_) {
        case LinkKind::Tap:
            values.rx_packets = sent;
            values.rx_bytes = sent_bytes;
            values.rx_dropped = sent_dropped;
            values.tx_packets = received;
            values.tx_bytes = received_bytes;
            values.tx_dropped = received_dropped + frame_errors;
            break;
        case LinkKind::Macvtap:
            values.rx_packets = received;
            values.rx_bytes = received_bytes;
            values.rx_dropped = received_dropped;
            values.tx_packets = sent;
            values.tx_bytes = sent_bytes;
            values.tx_dropped = sent_dropped;
            break;
    }
    return values;
}

}  // namespace skiff::net
