// Helpers for the tap tests: private network namespaces, raw interface
// set-up the product code does not need (addresses, ARP entries, bridges,
// taps made by hand), and Ethernet/ARP/IPv4/UDP/ICMP frames behind a
// 12-byte virtio-net header.
#pragma once

#include "net/mac_address.h"
#include "net/tap.h"
#include "vmm/unique_fd.h"

#include <sys/types.h>

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

// The value of a Result, or the test fails with its error message (a GNU
// statement expression: Catch's FAIL must run in the test's own scope).
#define REQUIRE_OK(expression)                  \
    ({                                          \
        auto _test_result = (expression);       \
        if (!_test_result.ok()) {               \
            FAIL(_test_result.error().message); \
        }                                       \
        std::move(_test_result).value();        \
    })

namespace skiff::test {

using Bytes = std::vector<uint8_t>;

// Moves this process into a new, empty network namespace; the previous
// one (and all it holds) goes away once nothing uses it. "" on success.
std::string enter_fresh_network_namespace();

// All return "" on success, else what failed.
std::string set_ipv4_address(const std::string& name, const char* address, const char* netmask);
std::string add_static_arp(const std::string& name, const char* address, const net::MacAddress& mac);
std::string create_bridge(const std::string& name);
// RTM_DELLINK, as `ip link delete NAME` would.
std::string delete_link(const std::string& name);
// A veth pair `name` <-> `peer` in this namespace (both down).
std::string create_veth_pair(const std::string& name, const std::string& peer);
// Mounts a sysfs of this network namespace on /sys, in a mount namespace
// private to this process (made on the first call; the host's mounts are
// untouched), so that /sys/class/net shows this namespace's interfaces,
// as `ip netns exec` arranges for skiff.
std::string mount_sysfs_for_this_network_namespace();
// A persistent tap, owned by `owner` when given (TUNSETOWNER).
std::string create_persistent_tap(const std::string& name, std::optional<uid_t> owner = std::nullopt);
// /dev/net/tun attached with TUNSETIFF(name, flags); invalid fd and
// `error` set on failure.
UniqueFd attach_tun(const std::string& name, short flags, std::string& error);

// Runs `check` in a forked child (for tests that drop privileges); the
// child's returned text ("" = passed) comes back through a pipe.
std::string run_in_child(const std::function<std::string()>& check);

inline constexpr net::MacAddress kPeerMac{{0x02, 0x00, 0x00, 0x00, 0x77, 0x02}};
inline constexpr const char* kHostAddress = "10.77.0.1";  // the tap's, on the host side
inline constexpr const char* kPeerAddress = "10.77.0.2";  // the "guest" writing into the tap
inline constexpr size_t kEthernetHeader = 14;
inline constexpr size_t kIpv4Header = 20;

// Frames with a zeroed (or given) 12-byte virtio_net_hdr_v1 in front.
Bytes arp_request(const net::MacAddress& sender_mac, const char* sender_ip, const char* target_ip);
Bytes icmp_echo_request(const net::MacAddress& source_mac, const net::MacAddress& destination_mac,
                        const char* source_ip, const char* destination_ip, uint16_t identifier, uint16_t sequence);
// With `partial_checksum`, the UDP checksum holds only the pseudo-header
// sum and the header asks the kernel to finish it (NEEDS_CSUM).
Bytes udp_frame(const net::MacAddress& source_mac, const net::MacAddress& destination_mac, const char* source_ip,
                const char* destination_ip, uint16_t source_port, uint16_t destination_port,
                std::span<const uint8_t> payload, bool partial_checksum = false);

uint16_t internet_checksum(std::span<const uint8_t> bytes, uint32_t sum = 0);
uint16_t read_be16(std::span<const uint8_t> bytes, size_t at);
uint32_t ipv4(const char* text);  // host byte order

// Receives frames from `tap` until one satisfies `wanted` (given the whole
// buffer, virtio-net header first) or `timeout_ms` passes.
std::optional<Bytes> receive_until(net::Tap& tap, const std::function<bool(const Bytes&)>& wanted,
                                   int timeout_ms = 3000);
// Sends one frame as three iovecs (header, Ethernet header, rest), to
// exercise the gather path.
Result<net::IoResult> send_frame(net::Tap& tap, const Bytes& frame);

}  // namespace skiff::test
