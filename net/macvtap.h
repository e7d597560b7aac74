// A macvtap interface as skiff's packet backend: a tap stacked on a NIC (or
// an SR-IOV VF, a veth, ...) whose character device /dev/tapN (N = its
// ifindex, node made by devtmpfs) carries the guest's frames with the same
// virtio-net header and offload ioctls as a tap.
//
// Created or existing. With a `name` that exists, that interface is used
// (it must be a macvtap; on `link` when both are given). Otherwise skiff
// creates one (RTM_NEWLINK, kind macvtap) on `link`, named `name` or, when
// empty, the first free "skiffmvtN", and deletes it again when this object
// is destroyed - on every orderly exit, on start-up failure, and on the
// crash signals net/created_links.h catches.
//
// MAC: in bridge, vepa and private modes the macvtap passes up only
// unicast to its own MAC, so the guest must use the macvtap's MAC.
//   created:  the macvtap gets `mac` (the guest's: mac= or skiff's default).
//             passthru: the macvtap shares its link's MAC; `mac`, when
//             given, is set on it, which changes the link's MAC too.
//   existing: without `mac` the guest takes the macvtap's MAC; a `mac` that
//             differs is set on the macvtap (needs CAP_NET_ADMIN), as an MTU
//             that differs is.
// mac() is the result, the MAC the guest must use.
//
// Identity: ifindexes are per network namespace but /dev is global, so
// /dev/tapN may be another namespace's macvtap with the same ifindex (its
// node was made first; ours then has none). skiff checks the opened fd is
// its interface: TUNGETIFF gives the name, SIOCGIFHWADDR the MAC. A macvtap
// skiff creates first gets a random MAC that nothing else has, so the
// check is exact; on a clash it is deleted and created again (a new
// ifindex). For an existing macvtap the check is name and MAC.
//
// Owner tag: a macvtap skiff creates carries the alias (IFLA_IFALIAS, "ip
// link show" prints it) "skiff pid=P start=T pidns=N": the process, its
// start time (/proc/P/stat field 22) and its PID namespace. SIGKILL (the
// OOM killer, a runtime's kill) leaves the macvtap behind; before creating
// one, skiff deletes the macvtaps of its network namespace whose tag names
// a process of its own PID namespace that no longer runs (no such pid, or
// one started at another time), with a warning per interface. Tags from
// another PID namespace, and macvtaps without a tag, are never touched.
#pragma once

#include "net/mac_address.h"
#include "net/net_config.h"
#include "net/tap.h"
#include "vmm/result.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace skiff::net {

struct MacvtapOptions {
    std::string link;  // the lower device; needed to create, checked when using an existing one
    std::string name;  // the macvtap to use or create; empty: skiff picks a free name
    MacvtapMode mode = MacvtapMode::Bridge;  // for a created one (an existing one keeps its own)
    std::optional<MacAddress> mac;
    std::optional<uint32_t> mtu;
};

class Macvtap final {
public:
    // Errors are one line with cause and fix: "link 'eth9' does not exist",
    // "creating macvtap on eth1: permission denied: run skiff as root or
    // give it CAP_NET_ADMIN", "interface 'veth0' exists and is a veth, not a
    // macvtap: ...", "/dev/tap7 not found: is devtmpfs (or udev) mounted on
    // /dev? ...". Nothing is left behind on failure.
    static Result<std::unique_ptr<Macvtap>> open(const MacvtapOptions& options);
    ~Macvtap();
    Macvtap(const Macvtap&) = delete;
    Macvtap& operator=(const Macvtap&) = delete;

    // The /dev/tapN fd as a Tap (vnet header, offloads probed), once.
    [[nodiscard]] std::unique_ptr<Tap> take_tap() { return std::move(tap_); }
    [[nodiscard]] const std::string& name() const { return name_; }
    [[nodiscard]] unsigned index() const { return index_; }
    [[nodiscard]] MacAddress mac() const { return mac_; }
    [[nodiscard]] uint32_t mtu() const { return mtu_; }
    [[nodiscard]] MacvtapMode mode() const { return mode_; }
    // True when skiff created the interface (and deletes it).
    [[nodiscard]] bool created() const { return created_; }

private:
    Macvtap() = default;
    void remove();

    std::unique_ptr<Tap> tap_;
    std::string name_;
    unsigned index_ = 0;
    MacAddress mac_;
    uint32_t mtu_ = 1500;
    MacvtapMode mode_ = MacvtapMode::Bridge;
    bool created_ = false;
    std::optional<size_t> crash_slot_;  // in CreatedLinks, while created_
};

// Who created a macvtap (the owner tag above).
struct MacvtapOwner {
    int pid = 0;
    uint64_t start = 0;  // clock ticks after boot, as /proc/PID/stat says
    uint64_t pid_namespace = 0;  // inode of /proc/PID/ns/pid
    bool operator==(const MacvtapOwner&) const = default;
};
// This process; nullopt when /proc cannot say.
[[nodiscard]] std::optional<MacvtapOwner> this_process_owner();
[[nodiscard]] std::string owner_tag(const MacvtapOwner& owner);
// nullopt for an alias that is not exactly a tag skiff writes.
[[nodiscard]] std::optional<MacvtapOwner> parse_owner_tag(std::string_view alias);
// Whether the owner still runs: same PID namespace as this process, the
// pid exists and started at `start`. An owner of another PID namespace
// counts as running (skiff cannot tell).
[[nodiscard]] bool owner_running(const MacvtapOwner& owner);
// Deletes the macvtaps of this network namespace left by skiff processes
// that no longer run (see the header); returns how many. Needs
// CAP_NET_ADMIN (as creating one does).
Result<unsigned> remove_abandoned_macvtaps();

// The macvlan mode number (MACVLAN_MODE_*) and back.
[[nodiscard]] uint32_t macvlan_mode_value(MacvtapMode mode);
[[nodiscard]] std::optional<MacvtapMode> macvtap_mode_from_value(uint32_t value);

}  // namespace skiff::net
