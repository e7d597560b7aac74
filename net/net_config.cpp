#include "net/net_config.h"

#include "net/interface.h"
#include "vmm/decimal.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <climits>
#include <map>
#include <span>
#include <vector>

namespace skiff::net {

namespace {

struct ModeInfo {
    NetMode mode;
    std::string_view name;
    std::string_view summary;
};

constexpr std::array kModes{
    ModeInfo{NetMode::Tap, "tap", "virtio-net; skiff moves frames between the guest and a tap (IFF_VNET_HDR)"},
    ModeInfo{NetMode::Vhost, "vhost",
             "virtio-net; the kernel's vhost_net worker moves them (needs /dev/vhost-net: modprobe vhost_net)"},
    ModeInfo{NetMode::Macvtap, "macvtap",
             "virtio-net on a macvtap interface stacked on a NIC or SR-IOV VF (needs CAP_NET_ADMIN to create it)"},
    ModeInfo{NetMode::Vfio, "vfio",
             "a PCI function (an SR-IOV VF) passed through to the guest (needs VT-d/AMD-Vi and vfio-pci)"},
};

// Which modes accept a key, as a bit per NetMode.
constexpr uint32_t mode_bit(NetMode mode) { return 1u << static_cast<uint32_t>(mode); }

struct KeyInfo {
    std::string_view name;
    uint32_t modes;
    std::string_view help;
};

constexpr uint32_t kTapModes = mode_bit(NetMode::Tap) | mode_bit(NetMode::Vhost);
constexpr uint32_t kVirtioModes = kTapModes | mode_bit(NetMode::Macvtap);
constexpr uint32_t kAllModes = kVirtioModes | mode_bit(NetMode::Vfio);
// The in-process data path's (vhost and VFIO bypass skiff; macvtap with
// vhost=on is refused by check_rate_limiters).
constexpr uint32_t kRateLimitedModes = mode_bit(NetMode::Tap) | mode_bit(NetMode::Macvtap);

// "mode" itself is not in the table: it is required and read first.
constexpr std::array kKeys{
    KeyInfo{"ifname", kTapModes,
            "tap to open, or to create if absent (at most 15 characters); with fd=, checks the fd's name"},
    KeyInfo{"fd", kTapModes,
            "an open tap (IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) handed over by the caller; skiff owns it"},
    KeyInfo{"bridge", kTapModes, "an existing bridge to add the tap to (not with fd=)"},
    KeyInfo{"link", mode_bit(NetMode::Macvtap), "the interface to stack the macvtap on (a NIC, a VF, a veth)"},
    KeyInfo{"name", mode_bit(NetMode::Macvtap),
            "the macvtap interface: used if it exists, else created on link= (default: skiff picks one)"},
    KeyInfo{"macvtap-mode", mode_bit(NetMode::Macvtap), "bridge (default), vepa, private or passthru"},
    KeyInfo{"vhost", mode_bit(NetMode::Macvtap), "on: the kernel's vhost_net data path; off (default): skiff's"},
    KeyInfo{"device", mode_bit(NetMode::Vfio), "the PCI address of the function, e.g. 0000:03:10.2"},
    KeyInfo{"pf", mode_bit(NetMode::Vfio), "the SR-IOV physical function's interface (with vf=)"},
    KeyInfo{"vf", mode_bit(NetMode::Vfio), "the virtual function's number on pf= (0, 1, ...)"},
    KeyInfo{"mac", kAllModes,
            "the guest's unicast MAC, e.g. 02:12:34:56:78:9a (default: 02:xx:...; vfio: set through the PF)"},
    KeyInfo{"mtu", kVirtioModes,
            "set on the host interface and offered to the guest (default: its current MTU); a tap takes "
            "68..65521, a macvtap 68..65535 but not above its link's"},
    KeyInfo{"transport", kVirtioModes, "mmio (default) or pci"},
    KeyInfo{"rx-bandwidth", kRateLimitedModes,
            "BYTES:REFILL_MS[:BURST]: into the guest at most BYTES per REFILL_MS ms (token bucket; BURST once)"},
    KeyInfo{"rx-ops", kRateLimitedModes, "FRAMES:REFILL_MS[:BURST]: into the guest at most FRAMES per REFILL_MS ms"},
    KeyInfo{"tx-bandwidth", kRateLimitedModes, "BYTES:REFILL_MS[:BURST]: out of the guest, as rx-bandwidth"},
    KeyInfo{"tx-ops", kRateLimitedModes, "FRAMES:REFILL_MS[:BURST]: out of the guest, as rx-ops"},
};

// Longest refill period a token bucket takes: its arithmetic counts
// nanoseconds in 64 bits.
constexpr uint64_t kMaxRefillMs = 1'000'000'000'000;  // about 31 years

std::string mode_names() {
    std::vector<std::string_view> names;
    for (const auto& mode : kModes) {
        names.push_back(mode.name);
    }
    return fmt::format("{}", fmt::join(names, ", "));
}

std::string key_names(NetMode mode) {
    std::vector<std::string_view> names;
    for (const auto& key : kKeys) {
        if ((key.modes & mode_bit(mode)) != 0) {
            names.push_back(key.name);
        }
    }
    return fmt::format("{}", fmt::join(names, ", "));
}

// Errors name the key and the fault; the public entry points put the source
// in front ("--net: ...", "network interface eth0: ...").
Error net_error(std::string message) { return Error{std::move(message)}; }

// key=value pairs in the order given, each key at most once.
Result<std::vector<std::pair<std::string, std::string>>> split_items(std::string_view text) {
    std::vector<std::pair<std::string, std::string>> items;
    if (text.empty()) {
        return net_error(fmt::format("empty value: expected mode=MODE,... (modes: {}; see --net help)",
                                     mode_names()));
    }
    size_t start = 0;
    while (start <= text.size()) {
        size_t comma = text.find(',', start);
        std::string_view item = text.substr(start, comma == std::string_view::npos ? std::string_view::npos
                                                                                  : comma - start);
        size_t equals = item.find('=');
        if (item.empty()) {
            return net_error(fmt::format("empty item in '{}' (two commas, or a comma at an end)", text));
        }
        if (equals == std::string_view::npos) {
            return net_error(fmt::format("'{}' is not key=value", item));
        }
        std::string key(item.substr(0, equals));
        std::string value(item.substr(equals + 1));
        if (key.empty()) {
            return net_error(fmt::format("'{}' has no key before '='", item));
        }
        if (value.empty()) {
            return net_error(fmt::format("{}= needs a value", key));
        }
        bool duplicate = std::any_of(items.begin(), items.end(), [&](const auto& seen) { return seen.first == key; });
        if (duplicate) {
            return net_error(fmt::format("{}= is given twice", key));
        }
        items.emplace_back(std::move(key), std::move(value));
        if (comma == std::string_view::npos) {
            break;
        }
        start = comma + 1;
    }
    return items;
}

Result<NetMode> parse_mode(std::string_view name) {
    for (const auto& mode : kModes) {
        if (mode.name == name) {
            return mode.mode;
        }
    }
    return net_error(fmt::format("unknown mode '{}' (valid modes: {})", name, mode_names()));
}

// "0000:03:10.2" or "03:10.2" (domain 0000): the kernel's lowercase form.
std::optional<std::string> parse_pci_address(std::string_view text) {
    std::string full(text);
    if (full.size() == 7) {
        full = "0000:" + full;
    }
    if (full.size() != 12 || full[4] != ':' || full[7] != ':' || full[10] != '.') {
        return std::nullopt;
    }
    for (size_t i = 0; i < full.size(); ++i) {
        char c = static_cast<char>(std::tolower(static_cast<unsigned char>(full[i])));
        if (i == 4 || i == 7 || i == 10) {
            continue;
        }
        if (!std::isxdigit(static_cast<unsigned char>(c))) {
            return std::nullopt;
        }
        full[i] = c;
    }
    // Device 0..31, function 0..7.
    if (std::stoul(full.substr(8, 2), nullptr, 16) > 31 || full[11] > '7') {
        return std::nullopt;
    }
    return full;
}

// A rate limiter key's value: SIZE:REFILL_MS[:ONE_TIME_BURST], each part
// digits only; SIZE and REFILL_MS at least 1.
Result<TokenBucketConfig> parse_token_bucket(const std::string& key, std::string_view value) {
    std::vector<std::string_view> parts;
    size_t start = 0;
    for (size_t colon = value.find(':'); colon != std::string_view::npos; colon = value.find(':', start)) {
        parts.push_back(value.substr(start, colon - start));
        start = colon + 1;
    }
    parts.push_back(value.substr(start));
    std::string_view unit = key.ends_with("-ops") ? "FRAMES" : "BYTES";
    auto wrong = [&](std::string_view problem) {
        return net_error(fmt::format("{}={}: {}; expected {}:REFILL_MS[:BURST], e.g. {}={}", key, value, problem,
                                     unit, key, key.ends_with("-ops") ? "1000:1000 (1000 frames/s)"
                                                                      : "1250000:100 (12.5 MB/s, 100 Mbit/s)"));
    };
    if (parts.size() < 2 || parts.size() > 3) {
        return wrong("two or three numbers separated by ':'");
    }
    TokenBucketConfig bucket;
    auto size = parse_whole_number(parts[0], 1, UINT64_MAX);
    if (!size) {
        return wrong(fmt::format("{} must be a whole number from 1", unit));
    }
    auto refill = parse_whole_number(parts[1], 1, kMaxRefillMs);
    if (!refill) {
        return wrong(fmt::format("REFILL_MS must be a whole number of milliseconds from 1 to {}", kMaxRefillMs));
    }
    bucket.size = *size;
    bucket.refill_time_ms = *refill;
    if (parts.size() == 3) {
        auto burst = parse_whole_number(parts[2], 0, UINT64_MAX);
        if (!burst) {
            return wrong("BURST must be a whole number");
        }
        bucket.one_time_burst = *burst;
    }
    return bucket;
}

// Applies one key's value; the key is known to be valid for the mode.
Result<void> apply_key(NetConfig& config, const std::string& key, const std::string& value) {
    if (key == "rx-bandwidth" || key == "rx-ops" || key == "tx-bandwidth" || key == "tx-ops") {
        TokenBucketConfig bucket = TRY(parse_token_bucket(key, value));
        RateLimiterConfig& limiter = key.starts_with("rx-") ? config.rx_rate_limiter : config.tx_rate_limiter;
        (key.ends_with("-ops") ? limiter.ops : limiter.bandwidth) = bucket;
    } else if (key == "ifname" || key == "name") {
        TRY(check_interface_name(value).context_error(key));
        config.ifname = value;
    } else if (key == "bridge") {
        TRY(check_interface_name(value).context_error("bridge"));
        config.bridge = value;
    } else if (key == "fd") {
        auto fd = parse_whole_number(value, 0, INT_MAX);
        if (!fd) {
            return net_error(fmt::format("fd={}: expected a file descriptor number (decimal digits)", value));
        }
        if (*fd <= 2) {
            return net_error(fmt::format("fd={} is standard input, output or error: pass the tap on fd 3 or above",
                                         value));
        }
        config.fd = static_cast<int>(*fd);
    } else if (key == "mac") {
        auto mac = MacAddress::parse(value);
        if (!mac) {
            return net_error("mac=" + mac.error().message);
        }
        if (mac->is_multicast()) {
            return net_error(fmt::format("mac={} is a multicast address (lowest bit of the first byte set): "
                                         "a guest interface needs a unicast one, e.g. 02:{}",
                                         value, value.substr(3)));
        }
        if (mac->is_zero()) {
            return net_error("mac=00:00:00:00:00:00 is not a valid interface address");
        }
        config.mac = *mac;
    } else if (key == "mtu") {
        uint32_t maximum = max_mtu(config.mode);
        auto mtu = parse_whole_number(value, kMinMtu, maximum);
        if (!mtu) {
            return net_error(fmt::format("mtu={}: expected a whole number from {} to {} (a {}'s limits)", value,
                                         kMinMtu, maximum, config.mode == NetMode::Macvtap ? "macvtap" : "tap"));
        }
        config.mtu = static_cast<uint32_t>(*mtu);
    } else if (key == "link") {
        TRY(check_interface_name(value).context_error("link"));
        config.link = value;
    } else if (key == "pf") {
        TRY(check_interface_name(value).context_error("pf"));
        config.pf = value;
    } else if (key == "macvtap-mode") {
        constexpr std::array kMacvtapModes{MacvtapMode::Bridge, MacvtapMode::Vepa, MacvtapMode::Private,
                                           MacvtapMode::Passthru};
        auto found = std::find_if(kMacvtapModes.begin(), kMacvtapModes.end(),
                                  [&](MacvtapMode mode) { return macvtap_mode_name(mode) == value; });
        if (found == kMacvtapModes.end()) {
            return net_error(fmt::format("macvtap-mode={}: expected bridge, vepa, private or passthru", value));
        }
        config.macvtap_mode = *found;
    } else if (key == "vhost") {
        if (value != "on" && value != "off") {
            return net_error(fmt::format("vhost={}: expected on or off", value));
        }
        config.vhost = value == "on";
    } else if (key == "device") {
        auto address = parse_pci_address(value);
        if (!address) {
            return net_error(fmt::format("device={}: expected a PCI address DDDD:BB:DD.F, e.g. 0000:03:10.2", value));
        }
        config.device = *address;
    } else if (key == "vf") {
        auto vf = parse_whole_number(value, 0, 65535);
        if (!vf) {
            return net_error(fmt::format("vf={}: expected a virtual function number (0, 1, ... 65535)", value));
        }
        config.vf = static_cast<uint32_t>(*vf);
    } else if (key == "transport") {
        if (value == "mmio") {
            config.transport = NetTransport::Mmio;
        } else if (value == "pci") {
            config.transport = NetTransport::Pci;
        } else {
            return net_error(fmt::format("transport={}: expected mmio or pci", value));
        }
    }
    return {};
}

Result<void> check_tap_combination(const NetConfig& config) {
    if (!config.fd && config.ifname.empty()) {
        return net_error(fmt::format("mode={} needs ifname=NAME (a tap to open or create) or fd=N (an open tap)",
                                     net_mode_name(config.mode)));
    }
    if (config.fd && config.bridge) {
        return net_error("bridge= does not go with fd=: whoever opens the tap adds it to the bridge "
                         "(ip link set TAP master BRIDGE)");
    }
    return {};
}

Result<void> check_macvtap_combination(const NetConfig& config) {
    if (config.link.empty() && config.ifname.empty()) {
        return net_error("mode=macvtap needs link=IF (the interface to stack a new macvtap on) or name=NAME "
                         "(an existing macvtap)");
    }
    return {};
}

Result<void> check_vfio_combination(const NetConfig& config) {
    bool by_address = !config.device.empty();
    bool by_pf = !config.pf.empty() || config.vf.has_value();
    if (by_address && by_pf) {
        return net_error("mode=vfio takes device=ADDRESS or pf=IF,vf=N, not both");
    }
    if (!by_address && !by_pf) {
        return net_error("mode=vfio needs device=DDDD:BB:DD.F or pf=IF,vf=N (the SR-IOV VF to pass through)");
    }
    if (by_pf && (config.pf.empty() || !config.vf)) {
        return net_error(config.pf.empty() ? "vf= needs pf=IF (the physical function's interface)"
                                           : "pf= needs vf=N (which of its virtual functions)");
    }
    return {};
}

// Rate limits need the in-process data path.
Result<void> rate_limiters_usable(const NetConfig& config) {
    if ((limits_rate(config.rx_rate_limiter) || limits_rate(config.tx_rate_limiter)) &&
        (uses_vhost(config) || config.mode == NetMode::Vfio)) {
        return Error::format("rate limiters need skiff's own data path, and mode={}{} bypasses it: "
                             "use mode=tap (or macvtap with vhost=off), or drop the rate limiter",
                             net_mode_name(config.mode), config.vhost ? ",vhost=on" : "");
    }
    return {};
}

Result<NetConfig> parse_items(std::vector<std::pair<std::string, std::string>> items) {
    auto mode_item = std::find_if(items.begin(), items.end(), [](const auto& item) { return item.first == "mode"; });
    if (mode_item == items.end()) {
        return net_error(fmt::format("mode= is missing (valid modes: {})", mode_names()));
    }
    NetConfig config;
    config.mode = TRY(parse_mode(mode_item->second));
    items.erase(mode_item);

    for (const auto& [key, value] : items) {
        // A named copy: clang before 16 cannot capture a structured binding.
        std::string_view name = key;
        auto known = std::find_if(kKeys.begin(), kKeys.end(), [&](const KeyInfo& info) { return info.name == name; });
        if (known == kKeys.end() || (known->modes & mode_bit(config.mode)) == 0) {
            return net_error(fmt::format("unknown key '{}' (valid keys for mode={}: mode, {})", key,
                                         net_mode_name(config.mode), key_names(config.mode)));
        }
        TRY(apply_key(config, key, value));
    }

    switch (config.mode) {
        case NetMode::Tap:
        case NetMode::Vhost:
            TRY(check_tap_combination(config));
            break;
        case NetMode::Macvtap:
            TRY(check_macvtap_combination(config));
            TRY(rate_limiters_usable(config));
            break;
        case NetMode::Vfio:
            TRY(check_vfio_combination(config));
            config.transport = NetTransport::Pci;  // a PCI function is on the PCI bus
            break;
    }
    return config;
}

}  // namespace

Result<NetConfig> parse_net_config(std::string_view text) {
    auto items = split_items(text);
    if (!items.ok()) {
        return items.error().context("--net");
    }
    return parse_items(std::move(items.value())).context_error("--net");
}

Result<NetConfig> net_config_from_items(std::vector<std::pair<std::string, std::string>> items,
                                        std::string_view context) {
    return parse_items(std::move(items)).context_error(context);
}

Result<void> check_rate_limiters(const NetConfig& config, std::string_view context) {
    return rate_limiters_usable(config).context_error(context);
}

std::string_view net_mode_name(NetMode mode) {
    for (const auto& info : kModes) {
        if (info.mode == mode) {
            return info.name;
        }
    }
    return "unknown";
}

std::string_view net_transport_name(NetTransport transport) {
    return transport == NetTransport::Pci ? "pci" : "mmio";
}

std::string_view macvtap_mode_name(MacvtapMode mode) {
    switch (mode) {
        case MacvtapMode::Bridge:
            return "bridge";
        case MacvtapMode::Vepa:
            return "vepa";
        case MacvtapMode::Private:
            return "private";
        case MacvtapMode::Passthru:
            return "passthru";
    }
    return "unknown";
}

std::string net_config_help() {
    std::string text = "--net mode=MODE,KEY=VALUE,...  (once per guest interface)\n\nModes:\n";
    for (const auto& mode : kModes) {
        text += fmt::format("  {:<10} {}\n", mode.name, mode.summary);
        for (const auto& key : kKeys) {
            if ((key.modes & mode_bit(mode.mode)) != 0) {
                text += fmt::format("    {:<13} {}\n", key.name, key.help);
            }
        }
    }
    text +=
        "\nExamples:\n"
        "  --net mode=tap,ifname=tap0                 open tap0, or create it (needs CAP_NET_ADMIN)\n"
        "  --net mode=tap,ifname=tap0,bridge=br0      ... and add it to the existing bridge br0\n"
        "  --net mode=tap,fd=3,mac=02:00:00:00:00:01  use the tap open on fd 3\n"
        "  --net mode=vhost,ifname=tap0,transport=pci the same tap, packets moved by vhost_net\n"
        "  --net mode=macvtap,link=eth1               a new bridge-mode macvtap on eth1\n"
        "  --net mode=macvtap,link=eth1,vhost=on      ... with the vhost_net data path\n"
        "  --net mode=vfio,pf=eth1,vf=0,mac=02:00:00:00:00:02  VF 0 of eth1 as the guest's own NIC\n"
        "  --net mode=vfio,device=0000:03:10.2        the PCI function at that address\n"
        "  --net mode=tap,ifname=tap0,tx-bandwidth=1250000:100  the guest sends at most 12.5 MB/s (100 Mbit/s)\n"
        "\nA tap or macvtap skiff creates disappears when skiff exits; an existing one stays.\n"
        "A persistent tap owned by the user (ip tuntap add NAME mode tap user USER) needs no privilege.\n"
        "vfio binds the function to vfio-pci for the VM's lifetime and gives it back to its driver after,\n"
        "and a VF given mac= its old MAC.\n"
        "Rate limits delay frames, skiff drops none: what waits to leave stays in the guest's ring, what waits\n"
        "to enter stays in the tap's queue (which the host kernel trims when full, as for any slow reader).\n";
    return text;
}

}  // namespace skiff::net
