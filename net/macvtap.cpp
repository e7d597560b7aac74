#include "net/macvtap.h"

#include "net/created_links.h"
#include "net/interface.h"
#include "net/netlink.h"
#include "vmm/unique_fd.h"

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstring>
#include <thread>

namespace skiff::net {

namespace {

// Times a macvtap skiff creates is deleted and created again because its
// /dev/tapN turned out to be another namespace's (see the header).
constexpr int kCreateAttempts = 5;
constexpr int kPickedNames = 1000;  // "skiffmvt0" .. "skiffmvt999"
// How long to wait for a /dev/tapN that udev (rather than devtmpfs) makes.
constexpr auto kDeviceNodeWait = std::chrono::seconds(2);

std::string describe_kind(const std::string& kind) {
    return kind.empty() ? std::string("a network device") : fmt::format("a {}", kind);
}

// A random locally administered unicast MAC: what a macvtap skiff creates
// starts with, so that the /dev/tapN identity check is exact.
MacAddress random_mac() {
    MacAddress mac;
    if (::getrandom(mac.bytes.data(), mac.bytes.size(), 0) != static_cast<ssize_t>(mac.bytes.size())) {
        auto seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()) ^
                    (static_cast<uint64_t>(::getpid()) << 20);
        for (auto& byte : mac.bytes) {
            seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
            byte = static_cast<uint8_t>(seed >> 56);
        }
    }
    mac.bytes[0] = static_cast<uint8_t>((mac.bytes[0] & 0xfe) | 0x02);
    return mac;
}

// The owner tag (see the header) on a macvtap skiff created; without it
// only the clean-up after a SIGKILL is lost.
void tag_owner(unsigned index, const std::string& name);

NetlinkMessage delete_request(unsigned index) { return NetlinkMessage::link(RTM_DELLINK, index); }

Error create_error(const std::string& name, const std::string& link, const MacvtapOptions& options, int error) {
    std::string what = fmt::format("creating macvtap '{}' on {}", name, link);
    switch (error) {
        case EPERM:
        case EACCES:
            return Error::format("{}: permission denied: {}", what, kNeedNetAdmin);
        case EEXIST:
            return Error::format("{}: an interface of that name appeared meanwhile: choose another name=", what);
        case EOPNOTSUPP:
            return Error::format("{}: this kernel has no macvtap support: load it (modprobe macvtap)", what);
        case EBUSY:
        case EINVAL:
            // Not Ethernet (lo) and an MTU above the link's were checked
            // before: what is left is passthru's rule.
            return Error::format("{}: the kernel refused ({}): {} carries a macvtap/macvlan in passthru mode, or "
                                 "passthru was asked and it already carries macvtap/macvlan interfaces (passthru "
                                 "needs the link to itself)",
                                 what, std::strerror(error), link);
        case EADDRINUSE:
            return Error::format("{}: MAC {} is already used by another macvtap/macvlan on {}: choose another mac=",
                                 what, options.mac ? options.mac->to_string() : std::string("?"), link);
        case ENODEV:
            return Error::format("{}: {} disappeared meanwhile", what, link);
        default:
            return Error::format("{}: {}", what, std::strerror(error));
    }
}

// RTM_NEWLINK on an existing index with IFLA_ADDRESS: the kernel's errno
// (0 on success), so that EADDRINUSE can be told apart.
Result<int> set_mac_by_index(unsigned index, const MacAddress& mac) {
    auto request = NetlinkMessage::link(RTM_NEWLINK, index);
    request.put(IFLA_ADDRESS, std::as_bytes(std::span(mac.bytes)));
    return netlink_transact(request);
}

// Opens /dev/tapN; waits a little for a node udev makes after the fact.
Result<UniqueFd> open_device_node(unsigned index, const std::string& name) {
    std::string path = fmt::format("/dev/tap{}", index);
    auto deadline = std::chrono::steady_clock::now() + kDeviceNodeWait;
    for (;;) {
        UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NONBLOCK));
        if (fd.valid()) {
            return fd;
        }
        int error = errno;
        if (error == ENOENT && std::chrono::steady_clock::now() < deadline) {
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
            continue;
        }
        switch (error) {
            case ENOENT:
                return Error::format("macvtap '{}': {} not found: is devtmpfs (or udev) mounted on /dev? (mount -t "
                                     "devtmpfs devtmpfs /dev); or another network namespace's macvtap with ifindex "
                                     "{} took that node first: recreate '{}' so it gets another ifindex",
                                     name, path, index, name);
            case EACCES:
            case EPERM:
                return Error::format("macvtap '{}': {}: permission denied: run skiff as root, or give this user read "
                                     "and write access to {}",
                                     name, path, path);
            case ENXIO:
            case ENODEV:
                return Error::format("macvtap '{}': {} belongs to no interface (it was deleted meanwhile)", name,
                                     path);
            default:
                return Error::format("macvtap '{}': {}: {}", name, path, std::strerror(error));
        }
    }
}

// The name and MAC of the interface behind a /dev/tapN fd.
Result<std::pair<std::string, MacAddress>> identify_device(int fd, const std::string& path) {
    ifreq request{};
    if (::ioctl(fd, TUNGETIFF, &request) < 0) {
        return Error::format("{}: TUNGETIFF: {}", path, std::strerror(errno));
    }
    std::string name(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
    ifreq address{};
    if (::ioctl(fd, SIOCGIFHWADDR, &address) < 0) {
        return Error::format("{}: SIOCGIFHWADDR: {}", path, std::strerror(errno));
    }
    MacAddress mac;
    std::memcpy(mac.bytes.data(), address.ifr_hwaddr.sa_data, mac.bytes.size());
    return std::pair{std::move(name), mac};
}

// Opens /dev/tapN and checks it is `name` with `mac` in this namespace.
// An empty fd (and no error) when it is another interface.
Result<UniqueFd> open_own_device(unsigned index, const std::string& name, const MacAddress& mac,
                                 std::string& mismatch) {
    auto fd = TRY(open_device_node(index, name));
    std::string path = fmt::format("/dev/tap{}", index);
    auto [device_name, device_mac] = TRY(identify_device(fd.get(), path).context_error(fmt::format("macvtap '{}'", name)));
    if (device_name != name || device_mac != mac) {
        mismatch = fmt::format("{} is '{}' ({}), not '{}' ({})", path, device_name, device_mac.to_string(), name,
                               mac.to_string());
        return UniqueFd{};
    }
    return fd;
}

}  // namespace

uint32_t macvlan_mode_value(MacvtapMode mode) {
    switch (mode) {
        case MacvtapMode::Private:
            return MACVLAN_MODE_PRIVATE;
        case MacvtapMode::Vepa:
            return MACVLAN_MODE_VEPA;
        case MacvtapMode::Bridge:
            return MACVLAN_MODE_BRIDGE;
        case MacvtapMode::Passthru:
            return MACVLAN_MODE_PASSTHRU;
    }
    return MACVLAN_MODE_BRIDGE;
}

std::optional<MacvtapMode> macvtap_mode_from_value(uint32_t value) {
    switch (value) {
        case MACVLAN_MODE_PRIVATE:
            return MacvtapMode::Private;
        case MACVLAN_MODE_VEPA:
            return MacvtapMode::Vepa;
        case MACVLAN_MODE_BRIDGE:
            return MacvtapMode::Bridge;
        case MACVLAN_MODE_PASSTHRU:
            return MacvtapMode::Passthru;
        default:
            return std::nullopt;
    }
}

Result<std::unique_ptr<Macvtap>> Macvtap::open(const MacvtapOptions& options) {
    std::unique_ptr<Macvtap> macvtap(new Macvtap);
    std::optional<LinkInfo> existing;
    if (!options.name.empty()) {
        existing = TRY(find_link(options.name).context_error("macvtap"));
    }
    std::optional<LinkInfo> lower;
    if (!options.link.empty()) {
        lower = TRY(find_link(options.link).context_error("macvtap"));
        if (!lower) {
            return Error::format("link '{}' does not exist: name an interface of skiff's network namespace in link=",
                                 options.link);
        }
    }

    UniqueFd device;
    if (existing) {
        const std::string& name = options.name;
        if (existing->kind != "macvtap") {
            return Error::format("interface '{}' exists and is {}, not a macvtap: choose another name= (or drop it "
                                 "and let skiff create one)",
                                 name, describe_kind(existing->kind));
        }
        if (lower && existing->link_index != lower->index) {
            return Error::format("macvtap '{}' is on {}, not on {} as link= says: fix link= or drop it", name,
                                 existing->link_index ? interface_name(*existing->link_index) : std::string("?"),
                                 options.link);
        }
        macvtap->name_ = name;
        macvtap->index_ = existing->index;
        macvtap->mode_ = macvtap_mode_from_value(existing->macvlan_mode.value_or(MACVLAN_MODE_BRIDGE))
                             .value_or(MacvtapMode::Bridge);
        if (macvtap->mode_ != options.mode) {
            spdlog::debug("macvtap '{}' is in {} mode (kept as it is)", name, macvtap_mode_name(macvtap->mode_));
        }
        if (options.mac && existing->mac != options.mac) {
            TRY(set_interface_mac(name, *options.mac).context_error("macvtap (mac= differs from its MAC)"));
        }
        if (options.mtu && existing->mtu != options.mtu) {
            TRY(set_interface_mtu(name, *options.mtu).context_error("macvtap"));
        }
        MacAddress mac = TRY(interface_mac(name));
        std::string mismatch;
        device = TRY(open_own_device(macvtap->index_, name, mac, mismatch));
        if (!device.valid()) {
            return Error::format("macvtap '{}': {}: another network namespace's macvtap has ifindex {} too, and its "
                                 "/dev/tap{} came first: delete and recreate '{}' (it gets another ifindex), or let "
                                 "skiff create the macvtap",
                                 name, mismatch, macvtap->index_, macvtap->index_, name);
        }
    } else {
        if (!lower) {
            return Error::format("macvtap '{}' does not exist: give link=IF to create it there", options.name);
        }
        if (!lower->ethernet) {
            return Error::format("link '{}' cannot carry a macvtap: it is not an Ethernet device (name a NIC, a VF, a "
                                 "veth or a bridge in link=)",
                                 options.link);
        }
        if (options.mtu && lower->mtu && *options.mtu > *lower->mtu) {
            return Error::format("macvtap on {}: mtu={} is above {}'s MTU {}: a macvtap cannot exceed its link's "
                                 "(raise {}'s MTU or lower mtu=)",
                                 options.link, *options.mtu, options.link, *lower->mtu, options.link);
        }
        // What a skiff killed with SIGKILL left behind goes first.
        if (auto removed = remove_abandoned_macvtaps(); !removed.ok()) {
            spdlog::debug("looking for macvtaps left by killed skiffs: {}", removed.error().message);
        }
        bool passthru = options.mode == MacvtapMode::Passthru;
        macvtap->mode_ = options.mode;
        std::string mismatch;
        for (int attempt = 0; attempt < kCreateAttempts && !device.valid(); ++attempt) {
            // In passthru mode the macvtap has its link's MAC (setting one
            // sets the link's): no random MAC there.
            MacAddress probe_mac = random_mac();
            std::string name = options.name;
            int error = EEXIST;
            for (int candidate = 0; candidate < kPickedNames && error == EEXIST; ++candidate) {
                if (options.name.empty()) {
                    name = fmt::format("skiffmvt{}", candidate);
                    if (interface_exists(name)) {
                        continue;
                    }
                }
                auto request = NetlinkMessage::link(RTM_NEWLINK, 0, NLM_F_CREATE | NLM_F_EXCL);
                request.put_string(IFLA_IFNAME, name);
                request.put_u32(IFLA_LINK, lower->index);
                if (!passthru) {
                    request.put(IFLA_ADDRESS, std::as_bytes(std::span(probe_mac.bytes)));
                }
                if (options.mtu) {
                    request.put_u32(IFLA_MTU, *options.mtu);
                }
                size_t link_info = request.begin_nested(IFLA_LINKINFO);
                request.put_string(IFLA_INFO_KIND, "macvtap");
                size_t data = request.begin_nested(IFLA_INFO_DATA);
                request.put_u32(IFLA_MACVLAN_MODE, macvlan_mode_value(options.mode));
                request.end_nested(data);
                request.end_nested(link_info);
                error = TRY(netlink_transact(request).context_error(fmt::format("creating macvtap on {}", options.link)));
                if (!options.name.empty()) {
                    break;
                }
            }
            if (error != 0) {
                return create_error(name, options.link, options, error);
            }
            // From here on the destructor (or the crash handler) deletes it.
            auto created = find_link(name);
            if (!created.ok() || !created->has_value()) {
                auto by_name = NetlinkMessage::link(RTM_DELLINK);
                by_name.put_string(IFLA_IFNAME, name);
                (void)netlink_transact(by_name);  // nothing left behind, if it is there at all
                return Error::format("macvtap '{}' on {}: created, then not found ({})", name, options.link,
                                     created.ok() ? std::string("deleted meanwhile?") : created.error().message);
            }
            macvtap->name_ = name;
            macvtap->index_ = (*created)->index;
            macvtap->created_ = true;
            macvtap->crash_slot_ = CreatedLinks::remember(delete_request(macvtap->index_));
            tag_owner(macvtap->index_, name);
            if (!macvtap->crash_slot_) {
                spdlog::warn("macvtap '{}': too many interfaces to remove on a crash; it is removed on orderly exits "
                             "only",
                             name);
            }
            MacAddress expected = passthru ? (*created)->mac.value_or(MacAddress{}) : probe_mac;
            device = TRY(open_own_device(macvtap->index_, name, expected, mismatch));
            if (!device.valid()) {
                spdlog::debug("macvtap '{}': {}; creating it again for another ifindex", name, mismatch);
                macvtap->remove();
            }
        }
        if (!device.valid()) {
            return Error::format("macvtap on {}: {} ({} attempts; other network namespaces hold /dev/tapN nodes for "
                                 "these ifindexes): retry later",
                                 options.link, mismatch, kCreateAttempts);
        }
        if (options.mac && (!passthru || TRY(interface_mac(macvtap->name_)) != *options.mac)) {
            int error = TRY(set_mac_by_index(macvtap->index_, *options.mac).context_error("macvtap"));
            if (error != 0) {
                return create_error(macvtap->name_, options.link, options, error);
            }
        }
    }

    if (lower && !lower->up) {
        spdlog::warn("macvtap '{}': its link {} is down: the guest's frames go nowhere until it is up (ip link set {} "
                     "up)",
                     macvtap->name_, options.link, options.link);
    }
    if (auto up = set_link_up(macvtap->name_); !up) {
        if (macvtap->created_) {
            return up.release_error();
        }
        // As for a tap: someone else's interface may be brought up later.
        spdlog::warn("{}; until it is up, the guest's frames are dropped", up.error().message);
    }
    macvtap->mac_ = TRY(interface_mac(macvtap->name_));
    macvtap->mtu_ = TRY(interface_mtu(macvtap->name_));

    TapOptions tap_options;
    tap_options.ifname = macvtap->name_;
    tap_options.fd = std::move(device);
    macvtap->tap_ = TRY(Tap::open(std::move(tap_options)).context_error(fmt::format("/dev/tap{}", macvtap->index_)));
    spdlog::info("macvtap '{}' (/dev/tap{}): {} on {}, {} mode, MAC {}, MTU {}", macvtap->name_, macvtap->index_,
                 macvtap->created_ ? "created (deleted when skiff exits)" : "existing",
                 macvtap->created_ || lower ? options.link : std::string("its link"),
                 macvtap_mode_name(macvtap->mode_), macvtap->mac_.to_string(), macvtap->mtu_);
    return macvtap;
}

Macvtap::~Macvtap() {
    tap_.reset();
    remove();
}

void Macvtap::remove() {
    if (!created_) {
        return;
    }
    created_ = false;
    auto result = netlink_transact(delete_request(index_));
    if (!result.ok()) {
        spdlog::warn("macvtap '{}': deleting it: {}: delete it by hand (ip link delete {})", name_,
                     result.error().message, name_);
    } else if (*result != 0 && *result != ENODEV) {
        spdlog::warn("macvtap '{}': deleting it: {}: delete it by hand (ip link delete {})", name_,
                     std::strerror(*result), name_);
    } else {
        spdlog::debug("macvtap '{}' deleted", name_);
    }
    // Forgotten only now: until the request went out, a crash still
    // deletes the interface.
    if (crash_slot_) {
        CreatedLinks::forget(*crash_slot_);
        crash_slot_.reset();
    }
}

namespace {

// Field 22 of /proc/PID/stat (starttime), after the parenthesised comm,
// which may itself hold spaces and parentheses.
std::optional<uint64_t> process_start(int pid) {
    std::string path = pid == 0 ? std::string("/proc/self/stat") : fmt::format("/proc/{}/stat", pid);
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return std::nullopt;
    }
    char buffer[1024];
    ssize_t length = ::read(fd.get(), buffer, sizeof(buffer) - 1);
    if (length <= 0) {
        return std::nullopt;
    }
    std::string_view text(buffer, static_cast<size_t>(length));
    size_t comm_end = text.rfind(')');
    if (comm_end == std::string_view::npos) {
        return std::nullopt;
    }
    text.remove_prefix(comm_end + 1);
    // Fields 3.. follow, space-separated: starttime is the 20th of them.
    for (int field = 3; field <= 22; ++field) {
        size_t begin = text.find_first_not_of(' ');
        if (begin == std::string_view::npos) {
            return std::nullopt;
        }
        text.remove_prefix(begin);
        size_t end = text.find(' ');
        std::string_view value = text.substr(0, end);
        if (field == 22) {
            uint64_t start = 0;
            auto [last, error] = std::from_chars(value.data(), value.data() + value.size(), start);
            if (error != std::errc() || last != value.data() + value.size()) {
                return std::nullopt;
            }
            return start;
        }
        if (end == std::string_view::npos) {
            return std::nullopt;
        }
        text.remove_prefix(end);
    }
    return std::nullopt;
}

std::optional<uint64_t> pid_namespace_of(const std::string& proc_entry) {
    struct stat status {};
    if (::stat(fmt::format("{}/ns/pid", proc_entry).c_str(), &status) != 0) {
        return std::nullopt;
    }
    return static_cast<uint64_t>(status.st_ino);
}

constexpr std::string_view kTagPrefix = "skiff pid=";

void tag_owner(unsigned index, const std::string& name) {
    auto owner = this_process_owner();
    if (!owner) {
        spdlog::debug("macvtap '{}': no owner tag (/proc/self unreadable)", name);
        return;
    }
    auto request = NetlinkMessage::link(RTM_SETLINK, index);
    request.put_string(IFLA_IFALIAS, owner_tag(*owner));
    auto result = netlink_transact(request);
    if (!result.ok() || *result != 0) {
        spdlog::debug("macvtap '{}': setting its owner tag: {}", name,
                      result.ok() ? std::string(std::strerror(*result)) : result.error().message);
    }
}

}  // namespace

std::optional<MacvtapOwner> this_process_owner() {
    auto start = process_start(0);
    auto pid_namespace = pid_namespace_of("/proc/self");
    if (!start || !pid_namespace) {
        return std::nullopt;
    }
    return MacvtapOwner{.pid = ::getpid(), .start = *start, .pid_namespace = *pid_namespace};
}

std::string owner_tag(const MacvtapOwner& owner) {
    return fmt::format("{}{} start={} pidns={}", kTagPrefix, owner.pid, owner.start, owner.pid_namespace);
}

std::optional<MacvtapOwner> parse_owner_tag(std::string_view alias) {
    MacvtapOwner owner;
    auto number = [&alias](std::string_view label, auto& value, char terminator) {
        if (!alias.starts_with(label)) {
            return false;
        }
        alias.remove_prefix(label.size());
        size_t end = terminator == '\0' ? alias.size() : alias.find(terminator);
        if (end == std::string_view::npos || end == 0) {
            return false;
        }
        auto [last, error] = std::from_chars(alias.data(), alias.data() + end, value);
        if (error != std::errc() || last != alias.data() + end) {
            return false;
        }
        alias.remove_prefix(end);
        return true;
    };
    if (!number(kTagPrefix, owner.pid, ' ') || !number(" start=", owner.start, ' ') ||
        !number(" pidns=", owner.pid_namespace, '\0') || owner.pid <= 0) {
        return std::nullopt;
    }
    return owner;
}

bool owner_running(const MacvtapOwner& owner) {
    auto ours = pid_namespace_of("/proc/self");
    if (!ours || *ours != owner.pid_namespace) {
        return true;  // another PID namespace's process: not ours to judge
    }
    auto start = process_start(owner.pid);
    return start && *start == owner.start;
}

Result<unsigned> remove_abandoned_macvtaps() {
    auto links = TRY(list_links());
    unsigned removed = 0;
    for (const LinkInfo& link : links) {
        if (link.kind != "macvtap") {
            continue;
        }
        auto owner = parse_owner_tag(link.alias);
        if (!owner || owner_running(*owner)) {
            continue;
        }
        int error = TRY(netlink_transact(delete_request(link.index)));
        if (error != 0 && error != ENODEV) {
            spdlog::warn("macvtap '{}' was left by skiff pid {}, which no longer runs; deleting it: {}", link.name,
                         owner->pid, std::strerror(error));
            continue;
        }
        spdlog::warn("macvtap '{}' was left by skiff pid {}, which no longer runs (killed with SIGKILL?): deleted",
                     link.name, owner->pid);
        ++removed;
    }
    return removed;
}

}  // namespace skiff::net
