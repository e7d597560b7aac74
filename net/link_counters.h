// The packet counters of a guest interface whose frames the kernel moves
// (vhost mode): the kernel's own statistics of the backend interface,
// /sys/class/net/NAME/statistics/*, turned to the guest's point of view.
//
// Directions (checked against the kernel by net_host [link_counters]):
//   tap (tun driver): its tx is what the kernel hands to the fd's reader,
//     the guest's rx; its rx is what is written to the fd, the guest's tx.
//   macvtap (macvlan's counting): its rx is what arrives for it, the
//     guest's rx; its tx is what the fd's writer sends, the guest's tx.
// dropped: the same direction's rx_dropped / tx_dropped; for a tap, the
// guest's tx_dropped also has rx_frame_errors (where Linux counts a
// virtio-net header it refuses there: 6.1 does, 6.18 counts nothing).
//
// Bytes are Ethernet frame bytes without the 12-byte virtio-net header,
// as skiff's in-process counters (net/queue_pair.cpp) count them; a TSO
// frame is one packet of its full size in both. Where the two differ
// (seen on Linux 6.18 by net_host [link_counters], or read in 6.1's
// drivers/net):
// - a macvtap counts a frame for the guest when it arrives, before the
//   guest takes it: one its queue has no room for is in rx_packets/rx_bytes
//   and in rx_dropped (200 sent at a queue of 16 nobody read: rx_packets
//   +200, rx_dropped 184); in-process, such a frame is only never read;
// - a tap counts in rx_dropped (the guest's tx_dropped) also frames it took
//   and the host's stack then discarded (an EtherType nothing on the host
//   handles, when the tap is on no bridge): they are in tx_packets too;
//   in-process, tx_dropped counts only frames the tap refused;
// - a tap refusing a frame outright (a bad header, shorter than an
//   Ethernet header) counts nothing (6.18) or rx_frame_errors (6.1, a bad
//   header): in-process counts it as tx_dropped;
// - a tap's tx_dropped (the guest's rx_dropped) counts frames dropped
//   because its queue for the reader was full (200 sent at a queue of 16:
//   184); in-process, the same drops happen in the tap, unseen by skiff's
//   rx_dropped (which counts frames too large for the guest's buffers);
// - Linux (6.1) counts the header in the bytes of a frame that an XDP
//   program redirects into a tap.
// The throttled counters are always zero (vhost has no rate limiter).
//
// Since open(): the values are differences from those read at open(), so
// traffic on a persistent tap before the VM does not count.
//
// Opened at set-up, before privileges are dropped and before --chroot: the
// attribute fds stay open, and each read is a pread at offset 0 (sysfs
// writes the attribute's text anew for a read from offset 0), which needs
// no path, no socket and nothing the seccomp filters refuse (pread64 is
// allowed on every thread).
//
// Namespaces: /sys/class/net shows the network namespace sysfs was mounted
// in, not necessarily skiff's (`unshare -n` keeps the old sysfs; `ip netns
// exec` mounts the namespace's own). open() checks that the directory is
// skiff's interface: its ifindex and MAC against what RTM_GETLINK on the
// name says (find_link, net/interface.h). Both, because ifindexes repeat
// across namespaces (the first interface made in each new one is usually 2). When
// they differ or the files are missing, it logs one warning naming the fix
// and the counters read zero; the VM is not refused for it.
#pragma once

#include "net/queue_pair.h"
#include "vmm/unique_fd.h"

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace skiff::net {

// Which driver counts, hence which way round its counters are.
enum class LinkKind { Tap, Macvtap };

class KernelLinkCounters final {
public:
    static constexpr std::string_view kSysfsNet = "/sys/class/net";

    // Opens the statistics of `interface` (in skiff's network namespace)
    // under `sysfs_net` (tests pass a directory of their own). `device`
    // names the guest interface in the warning ("net0"). Never fails: a
    // warning and zeros instead (see above).
    static std::unique_ptr<KernelLinkCounters> open(const std::string& interface, LinkKind kind,
                                                    std::string_view device,
                                                    std::string_view sysfs_net = kSysfsNet);

    // False when open() found nothing usable (and warned): read() is zeros.
    [[nodiscard]] bool available() const { return available_; }
    // The guest's counters since open(), from any thread. A file that
    // cannot be read or parsed keeps its last value (warned, rate-limited).
    [[nodiscard]] NetCounterValues read() const;

    // The attribute files, in this order.
    enum Statistic : size_t { RxPackets, RxBytes, RxDropped, RxFrameErrors, TxPackets, TxBytes, TxDropped, kCount };
    static constexpr std::array<std::string_view, kCount> kFileNames = {
        "rx_packets", "rx_bytes", "rx_dropped", "rx_frame_errors", "tx_packets", "tx_bytes", "tx_dropped"};

private:
    KernelLinkCounters(std::string interface, LinkKind kind) : interface_(std::move(interface)), kind_(kind) {}
    // The interface's value of `statistic` since open().
    uint64_t since_open(size_t statistic) const;

    std::string interface_;
    LinkKind kind_;
    bool available_ = false;
    std::array<UniqueFd, kCount> files_;
    std::array<uint64_t, kCount> baseline_{};
    // The last value read, kept when a later read fails.
    mutable std::array<std::atomic<uint64_t>, kCount> last_{};
};

}  // namespace skiff::net
