// One NIC with an IPv4 address and the tiny stack that serves it: ARP
// replies for its address, ICMP echo replies, UDP echo on port 7. Frames
// arrive whole (no offloads); IPv4 fragments are dropped, not reassembled.
#pragma once

#include "virtio_net.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define NET_ARP_CACHE_ENTRIES 8
#define NET_UDP_ECHO_PORT 7
#define ETHERNET_TYPE_IPV4 0x0800
#define ETHERNET_TYPE_ARP 0x0806
#define IPV4_HEADER_SIZE 20
#define UDP_HEADER_SIZE 8
#define IP_PROTOCOL_ICMP 1
#define IP_PROTOCOL_UDP 17

struct net_counters {
    uint64_t received;  // frames
    uint64_t received_bytes;
    uint64_t transmitted;  // frames
    uint64_t transmitted_bytes;
    // Received frames neither answered nor otherwise used (not for us,
    // malformed, bad checksum, fragment, unsupported protocol or port),
    // plus replies lost to a full transmit ring.
    uint64_t dropped;
    uint64_t checksum_errors;  // also counted in dropped
    uint64_t arp_replies;
    uint64_t echo_replies;
    uint64_t udp_echoes;
};

struct arp_entry {
    bool valid;
    uint32_t address;
    uint8_t mac[6];
};

struct net_interface {
    struct virtio_net nic;
    unsigned index;  // netN
    uint32_t address;  // host byte order; 0: unconfigured (answers nothing)
    uint32_t netmask;
    uint32_t gateway;  // 0: none
    uint16_t next_ip_id;
    struct net_counters counters;
    struct arp_entry arp[NET_ARP_CACHE_ENTRIES];
    unsigned arp_next;  // round-robin replacement
};

// Handles every frame received so far, answers what it should, gives the
// buffers back and notifies the device. Returns the frames handled.
unsigned net_poll(struct net_interface *interface);

// Broadcasts an ARP request for `address`.
bool net_send_arp_request(struct net_interface *interface, uint32_t address);

// The MAC learned for `address` (from ARP traffic), if any.
bool net_arp_lookup(const struct net_interface *interface, uint32_t address, uint8_t mac[6]);

// True when `address` is on the interface's own subnet.
bool net_on_link(const struct net_interface *interface, uint32_t address);

// Writes Ethernet, IPv4 and UDP headers for a datagram of `payload_length`
// bytes into `frame`; the payload goes at frame + net_udp_payload_offset.
// The IPv4 header is complete; the UDP checksum is left 0 for the caller
// (net_udp_checksum). Returns the frame length (padded to 60 bytes).
size_t net_build_udp(struct net_interface *interface, uint8_t *frame, const uint8_t dst_mac[6],
                     uint32_t dst_address, uint16_t src_port, uint16_t dst_port,
                     size_t payload_length);
#define NET_UDP_PAYLOAD_OFFSET (ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + UDP_HEADER_SIZE)
#define NET_UDP_CHECKSUM_OFFSET (ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + 6)

// The folded, not yet complemented sum over the UDP pseudo header and the
// datagram at `udp` (checksum field included as it stands).
uint32_t net_udp_sum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t udp_length);

// The value for a UDP checksum field from a sum made with the field 0
// (0 is sent as 0xffff: 0 means "no checksum").
uint16_t net_udp_checksum_value(uint32_t sum);

// Big-endian loads and stores on byte pointers (no alignment assumed).
static inline uint16_t load16(const uint8_t *bytes) {
    return (uint16_t)(bytes[0] << 8 | bytes[1]);
}
static inline uint32_t load32(const uint8_t *bytes) {
    return (uint32_t)bytes[0] << 24 | (uint32_t)bytes[1] << 16 | (uint32_t)bytes[2] << 8 | bytes[3];
}
static inline void store16(uint8_t *bytes, uint16_t value) {
    bytes[0] = (uint8_t)(value >> 8);
    bytes[1] = (uint8_t)value;
}
static inline void store32(uint8_t *bytes, uint32_t value) {
    bytes[0] = (uint8_t)(value >> 24);
    bytes[1] = (uint8_t)(value >> 16);
    bytes[2] = (uint8_t)(value >> 8);
    bytes[3] = (uint8_t)value;
}
