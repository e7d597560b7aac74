// KernelLinkCounters against the real kernel (what vhost mode reports):
// frames written into a tap's or a macvtap's fd and frames read from it,
// counted by the kernel and read back through sysfs, in the guest's
// directions; and the namespace trap (sysfs showing another namespace).
// Each case mounts a sysfs of its own namespace on /sys, in a private
// mount namespace, as `ip netns exec` does for skiff.
#include "../unit/captured_log.h"
#include "net/interface.h"
#include "net/link_counters.h"
#include "net/macvtap.h"
#include "net/tap.h"
#include "net_test_support.h"

#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>

using namespace skiff;
using namespace skiff::test;
using net::IoResult;
using net::KernelLinkCounters;
using net::LinkKind;

namespace {

// No interface here has it: frames to it are dropped quietly (otherhost).
constexpr net::MacAddress kNobodyMac{{0x02, 0x00, 0x00, 0x00, 0x99, 0x99}};
constexpr net::MacAddress kGuestMac{{0x02, 0x00, 0x00, 0x00, 0x88, 0x01}};
constexpr const char* kGuestAddress = "10.78.0.2";  // behind the macvtap
constexpr const char* kPeerSide = "10.78.0.1";       // on vethB

void fresh_namespace_with_sysfs() {
    auto error = enter_fresh_network_namespace();
    INFO(error);
    REQUIRE(error.empty());
    error = mount_sysfs_for_this_network_namespace();
    INFO(error);
    REQUIRE(error.empty());
}

// Writes `count` UDP frames of different sizes as the guest would (nobody
// answers them) and returns their bytes without the virtio-net header.
uint64_t write_frames(net::Tap& tap, const net::MacAddress& source, int count) {
    uint64_t bytes = 0;
    for (int i = 0; i < count; ++i) {
        std::vector<uint8_t> payload(static_cast<size_t>(10 + 100 * i), static_cast<uint8_t>(i));
        Bytes frame = udp_frame(source, kNobodyMac, "10.99.0.1", "10.99.0.2", 7000, 7001, payload);
        REQUIRE(REQUIRE_OK(send_frame(tap, frame)) == IoResult::Done);
        bytes += frame.size() - net::kVnetHeaderSize;
    }
    return bytes;
}

// A frame whose virtio-net header has a GSO type that does not exist: the
// kernel refuses it (Tap::send counts it dropped and goes on).
void send_refused_frame(net::Tap& tap, const net::MacAddress& source) {
    Bytes frame = udp_frame(source, kNobodyMac, "10.99.0.1", "10.99.0.2", 7000, 7001, {});
    frame[1] = 0x55;  // gso_type
    uint64_t dropped = tap.dropped_frames();
    REQUIRE(REQUIRE_OK(send_frame(tap, frame)) == IoResult::Done);
    CHECK(tap.dropped_frames() == dropped + 1);
}

// Sends `count` datagrams of `size` bytes from a socket here to `address`.
// Frames queued for a reader stay charged to the socket: a large send
// buffer, so that a flood gets to the queue instead of blocking.
void send_datagrams(const char* address, int count, size_t size) {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    REQUIRE(socket_fd.valid());
    int buffer = 64 << 20;
    REQUIRE(::setsockopt(socket_fd.get(), SOL_SOCKET, SO_SNDBUFFORCE, &buffer, sizeof(buffer)) == 0);
    sockaddr_in peer{};
    peer.sin_family = AF_INET;
    peer.sin_port = htons(6000);
    peer.sin_addr.s_addr = htonl(ipv4(address));
    std::string payload(size, 'c');
    for (int i = 0; i < count; ++i) {
        REQUIRE(::sendto(socket_fd.get(), payload.data(), payload.size(), 0, reinterpret_cast<sockaddr*>(&peer),
                         sizeof(peer)) == static_cast<ssize_t>(payload.size()));
    }
}

// The interface's queue length, which sizes a tap's or macvtap's queue
// of frames for its reader (and the qdisc's).
void set_queue_length(const std::string& name, int length) {
    UniqueFd socket_fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    ifreq request{};
    std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
    request.ifr_qlen = length;
    REQUIRE(::ioctl(socket_fd.get(), SIOCSIFTXQLEN, &request) == 0);
}

struct Received {
    uint64_t frames = 0;
    uint64_t bytes = 0;  // without the virtio-net header
};

// Reads frames as the guest would until `wanted` are in or nothing more
// comes for 300 ms.
Received read_frames(net::Tap& tap, uint64_t wanted) {
    Received received;
    Bytes buffer(net::kVnetHeaderSize + 65536);
    while (received.frames < wanted) {
        pollfd ready{tap.fd(), POLLIN, 0};
        if (::poll(&ready, 1, 300) <= 0) {
            break;
        }
        iovec vector{buffer.data(), buffer.size()};
        size_t length = 0;
        if (REQUIRE_OK(tap.receive({&vector, 1}, length)) == IoResult::Done) {
            received.frames += 1;
            received.bytes += length - net::kVnetHeaderSize;
        }
    }
    return received;
}

// Five 300-byte datagrams to `destination`, read by the guest from `tap`:
// the counters' rx equals what was read, tx is still `guest_tx` frames.
// Prints both directions under `label`; returns the counters.
net::NetCounterValues check_guest_rx(const char* label, net::Tap& tap, const KernelLinkCounters& counters,
                                     const char* destination, uint64_t guest_tx, uint64_t written) {
    send_datagrams(destination, 5, 300);
    Received received = read_frames(tap, 5);
    CHECK(received.frames == 5);
    net::NetCounterValues values = counters.read();
    CHECK(values.rx_packets == received.frames);
    CHECK(values.rx_bytes == received.bytes);
    CHECK(values.rx_bytes == 5 * (kEthernetHeader + kIpv4Header + 8 + 300));
    CHECK(values.tx_packets == guest_tx);
    std::printf("  %s: guest tx %llu frames / %llu bytes (written %llu), guest rx %llu / %llu (read %llu / %llu)\n",
                label, static_cast<unsigned long long>(values.tx_packets),
                static_cast<unsigned long long>(values.tx_bytes), static_cast<unsigned long long>(written),
                static_cast<unsigned long long>(values.rx_packets), static_cast<unsigned long long>(values.rx_bytes),
                static_cast<unsigned long long>(received.frames), static_cast<unsigned long long>(received.bytes));
    return values;
}

}  // namespace

TEST_CASE("a tap's kernel counters, turned round: what is written to it is the guest's tx", "[link_counters]") {
    fresh_namespace_with_sysfs();
    net::TapOptions options;
    options.ifname = "skc0";
    auto tap = REQUIRE_OK(net::Tap::open(std::move(options)));
    REQUIRE(set_ipv4_address("skc0", kHostAddress, "255.255.255.0") == "");
    REQUIRE_OK(net::set_link_up("skc0"));
    REQUIRE(add_static_arp("skc0", kPeerAddress, kPeerMac) == "");
    // Traffic before open() does not count.
    write_frames(*tap, kPeerMac, 2);

    CapturedLog warnings;
    auto counters = KernelLinkCounters::open("skc0", LinkKind::Tap, "net0");
    REQUIRE(counters->available());
    CHECK(warnings.text().empty());

    // Guest -> tap: the tap's rx, without the 12-byte header.
    uint64_t written = write_frames(*tap, kPeerMac, 7);
    net::NetCounterValues values = counters->read();
    CHECK(values.tx_packets == 7);
    CHECK(values.tx_bytes == written);
    CHECK(values.rx_packets == 0);
    CHECK(values.tx_dropped == 0);
    // A virtio-net header the kernel refuses is not a packet; Linux 6.1
    // counts it in rx_frame_errors (the guest's tx_dropped), later
    // kernels (6.18 here) refuse it before counting anything.
    send_refused_frame(*tap, kPeerMac);
    uint64_t refused_counted = counters->read().tx_dropped;
    CHECK(refused_counted <= 1);
    CHECK(counters->read().tx_packets == 7);
    // A frame the tap takes and the host's stack then discards (an
    // EtherType nothing here handles) is in the tap's rx_packets and its
    // rx_dropped: the guest's tx_packets and tx_dropped.
    Bytes unhandled = udp_frame(kPeerMac, kNobodyMac, "10.99.0.1", "10.99.0.2", 7000, 7001, {});
    unhandled[net::kVnetHeaderSize + 12] = 0x88;  // IEEE 802 local experimental EtherType 0x88b5
    unhandled[net::kVnetHeaderSize + 13] = 0xb5;
    REQUIRE(REQUIRE_OK(send_frame(*tap, unhandled)) == IoResult::Done);
    written += unhandled.size() - net::kVnetHeaderSize;
    values = counters->read();
    CHECK(values.tx_packets == 8);
    CHECK(values.tx_bytes == written);
    CHECK(values.tx_dropped == refused_counted + 1);
    std::printf("  tap: refused vnet header counted as guest tx_dropped: %llu; unhandled EtherType: tx_packets and "
                "tx_dropped both +1\n",
                static_cast<unsigned long long>(refused_counted));

    // Host -> tap -> guest: the tap's tx, counted as the reader takes them.
    values = check_guest_rx("tap", *tap, *counters, kPeerAddress, 8, written);

    // More than the tap's queue (16 frames here) holds while the guest
    // reads nothing: only what is read counts as received; what the tap
    // drops is the guest's rx_dropped.
    set_queue_length("skc0", 16);
    send_datagrams(kPeerAddress, 200, 64);
    Received flood = read_frames(*tap, 200);
    values = counters->read();
    CHECK(values.rx_packets == 5 + flood.frames);
    CHECK(values.rx_dropped == 200 - flood.frames);
    CHECK(values.rx_dropped > 0);
    std::printf("  tap: 200 sent while the guest did not read (queue 16): %llu read (guest rx), %llu dropped (guest "
                "rx_dropped)\n",
                static_cast<unsigned long long>(flood.frames), static_cast<unsigned long long>(values.rx_dropped));

    // After a chroot (as skiff after dropping privileges), the open fds
    // still read: no path is needed.
    uint64_t before = values.tx_packets;
    char empty[] = "/tmp/skiff-link-chroot-XXXXXX";
    REQUIRE(::mkdtemp(empty) != nullptr);
    std::string result = run_in_child([&]() -> std::string {
        if (::chroot(empty) != 0 || ::chdir("/") != 0) {
            return "chroot failed";
        }
        if (::access("/sys/class/net", F_OK) == 0) {
            return "/sys is still visible after the chroot";
        }
        for (int i = 0; i < 3; ++i) {
            Bytes frame = udp_frame(kPeerMac, kNobodyMac, "10.99.0.1", "10.99.0.2", 7000, 7001, {});
            auto sent = send_frame(*tap, frame);
            if (!sent.ok()) {
                return sent.error().message;
            }
        }
        uint64_t after = counters->read().tx_packets;
        return after == before + 3 ? std::string() : "tx_packets " + std::to_string(after) + " after the chroot";
    });
    ::rmdir(empty);
    CHECK(result == "");
}

TEST_CASE("a macvtap's kernel counters: what arrives for it is the guest's rx", "[link_counters][macvtap]") {
    fresh_namespace_with_sysfs();
    REQUIRE(create_veth_pair("vethA", "vethB") == "");
    REQUIRE_OK(net::set_link_up("vethA"));
    REQUIRE_OK(net::set_link_up("vethB"));
    REQUIRE(set_ipv4_address("vethB", kPeerSide, "255.255.255.0") == "");
    REQUIRE(add_static_arp("vethB", kGuestAddress, kGuestMac) == "");
    net::MacvtapOptions options;
    options.link = "vethA";
    options.name = "mvc0";
    options.mac = kGuestMac;
    auto macvtap = REQUIRE_OK(net::Macvtap::open(options));
    auto tap = macvtap->take_tap();

    CapturedLog warnings;
    auto counters = KernelLinkCounters::open("mvc0", LinkKind::Macvtap, "net0");
    REQUIRE(counters->available());
    CHECK(warnings.text().empty());

    // Guest -> macvtap -> vethA: the macvtap's tx.
    uint64_t written = write_frames(*tap, kGuestMac, 7);
    net::NetCounterValues values = counters->read();
    CHECK(values.tx_packets == 7);
    CHECK(values.tx_bytes == written);
    CHECK(values.rx_packets == 0);
    // A virtio-net header the kernel refuses: the guest's tx_dropped.
    send_refused_frame(*tap, kGuestMac);
    CHECK(counters->read().tx_dropped == 1);
    CHECK(counters->read().tx_packets == 7);
    CHECK(counters->read().rx_dropped == 0);

    // vethB -> vethA -> macvtap -> guest: the macvtap's rx.
    values = check_guest_rx("macvtap", *tap, *counters, kGuestAddress, 7, written);

    // More than its queue holds while the guest reads nothing: macvlan
    // counts each frame on arrival, so those it then drops are in both
    // rx_packets and rx_dropped (net/link_counters.h).
    set_queue_length("mvc0", 16);
    send_datagrams(kGuestAddress, 200, 64);
    Received flood = read_frames(*tap, 200);
    values = counters->read();
    CHECK(values.rx_dropped == 200 - flood.frames);
    CHECK(values.rx_dropped > 0);
    CHECK(values.rx_packets == 5 + 200);
    std::printf("  macvtap: 200 sent while the guest did not read (queue 16): %llu read, rx_packets +%llu, "
                "rx_dropped %llu\n",
                static_cast<unsigned long long>(flood.frames),
                static_cast<unsigned long long>(values.rx_packets - 5),
                static_cast<unsigned long long>(values.rx_dropped));
}

TEST_CASE("kernel counters where /sys shows another namespace: zeros and one warning", "[link_counters]") {
    // Namespace A, with its sysfs on /sys: skc0 (and skc1) live there.
    fresh_namespace_with_sysfs();
    net::TapOptions first;
    first.ifname = "skc0";
    auto tap_a0 = REQUIRE_OK(net::Tap::open(std::move(first)));
    net::TapOptions second;
    second.ifname = "skc1";
    auto tap_a1 = REQUIRE_OK(net::Tap::open(std::move(second)));
    std::string index_a0 = std::to_string(::if_nametoindex("skc0"));
    std::string index_a1 = std::to_string(::if_nametoindex("skc1"));

    // Namespace B, /sys left as it was (what `unshare -n` does): skc0 gets
    // the same ifindex as A's (another MAC), skc1 another one.
    auto error = enter_fresh_network_namespace();
    REQUIRE(error.empty());
    net::TapOptions same_index;
    same_index.ifname = "skc0";
    auto tap_b0 = REQUIRE_OK(net::Tap::open(std::move(same_index)));
    REQUIRE(create_bridge("skb0") == "");
    net::TapOptions other_index;
    other_index.ifname = "skc1";
    auto tap_b1 = REQUIRE_OK(net::Tap::open(std::move(other_index)));
    std::printf("  ifindex in A: skc0 %s, skc1 %s; in B: skc0 %u, skc1 %u\n", index_a0.c_str(), index_a1.c_str(),
                ::if_nametoindex("skc0"), ::if_nametoindex("skc1"));

    for (const char* name : {"skc0", "skc1"}) {
        CapturedLog warnings;
        auto counters = KernelLinkCounters::open(name, LinkKind::Tap, "net0");
        CHECK_FALSE(counters->available());
        CHECK(warnings.lines() == 1);
        CHECK_THAT(warnings.text(), Catch::Contains("another network namespace's interface"));
        INFO(warnings.text());
        REQUIRE_OK(net::set_link_up(name));
        write_frames(name == std::string("skc0") ? *tap_b0 : *tap_b1, kPeerMac, 3);
        CHECK(counters->read().tx_packets == 0);
        CHECK(counters->read().rx_packets == 0);
    }
    // A name sysfs does not show at all.
    CapturedLog warnings;
    auto counters = KernelLinkCounters::open("skcnone", LinkKind::Macvtap, "net0");
    CHECK_FALSE(counters->available());
    CHECK(warnings.lines() == 1);
    CHECK_THAT(warnings.text(), Catch::Contains("/sys does not show 'skcnone'"));
    CHECK(counters->read().tx_packets == 0);
}
