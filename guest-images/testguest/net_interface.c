#include "net_interface.h"

#include "checksum.h"
#include "string.h"

#define ETHERNET_MINIMUM_FRAME 60  // without the FCS, which the device adds
#define ARP_SIZE 28
#define ARP_HARDWARE_ETHERNET 1
#define ARP_REQUEST 1
#define ARP_REPLY 2
#define IPV4_FLAGS_FRAGMENT_MASK 0x3fff  // MF and the fragment offset
#define IPV4_FLAG_DONT_FRAGMENT 0x4000
#define IPV4_DEFAULT_TTL 64
#define ICMP_HEADER_SIZE 8
#define ICMP_ECHO_REPLY 0
#define ICMP_ECHO_REQUEST 8

static const uint8_t broadcast_mac[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};

// What one received frame turned out to be.
enum verdict { HANDLED, DROPPED, BAD_CHECKSUM };

bool net_on_link(const struct net_interface *interface, uint32_t address) {
    return interface->address != 0 &&
           (address & interface->netmask) == (interface->address & interface->netmask);
}

bool net_arp_lookup(const struct net_interface *interface, uint32_t address, uint8_t mac[6]) {
    for (unsigned index = 0; index < NET_ARP_CACHE_ENTRIES; ++index) {
        const struct arp_entry *entry = &interface->arp[index];
        if (entry->valid && entry->address == address) {
            memcpy(mac, entry->mac, 6);
            return true;
        }
    }
    return false;
}

// RFC 826's merge: update an entry we have; add one only when the sender
// was talking to us.
static void arp_learn(struct net_interface *interface, uint32_t address, const uint8_t mac[6],
                      bool addressed_to_us) {
    if (address == 0) {
        return;
    }
    for (unsigned index = 0; index < NET_ARP_CACHE_ENTRIES; ++index) {
        struct arp_entry *entry = &interface->arp[index];
        if (entry->valid && entry->address == address) {
            memcpy(entry->mac, mac, 6);
            return;
        }
    }
    if (addressed_to_us) {
        struct arp_entry *entry = &interface->arp[interface->arp_next];
        interface->arp_next = (interface->arp_next + 1) % NET_ARP_CACHE_ENTRIES;
        entry->valid = true;
        entry->address = address;
        memcpy(entry->mac, mac, 6);
    }
}

static void write_ethernet(const struct net_interface *interface, uint8_t *frame,
                           const uint8_t dst_mac[6], uint16_t type) {
    memcpy(frame, dst_mac, 6);
    memcpy(frame + 6, interface->nic.mac, 6);
    store16(frame + 12, type);
}

static size_t padded(uint8_t *frame, size_t length) {
    if (length < ETHERNET_MINIMUM_FRAME) {
        memset(frame + length, 0, ETHERNET_MINIMUM_FRAME - length);
        length = ETHERNET_MINIMUM_FRAME;
    }
    return length;
}

static void send(struct net_interface *interface, uint16_t token, size_t length) {
    virtio_net_transmit(&interface->nic, token, length);
    ++interface->counters.transmitted;
    interface->counters.transmitted_bytes += length;
}

static void write_arp(const struct net_interface *interface, uint8_t *arp, uint16_t operation,
                      const uint8_t target_mac[6], uint32_t target_address) {
    store16(arp, ARP_HARDWARE_ETHERNET);
    store16(arp + 2, ETHERNET_TYPE_IPV4);
    arp[4] = 6;
    arp[5] = 4;
    store16(arp + 6, operation);
    memcpy(arp + 8, interface->nic.mac, 6);
    store32(arp + 14, interface->address);
    memcpy(arp + 18, target_mac, 6);
    store32(arp + 24, target_address);
}

bool net_send_arp_request(struct net_interface *interface, uint32_t address) {
    uint16_t token;
    uint8_t *frame = virtio_net_transmit_buffer(&interface->nic, &token);
    if (frame == NULL) {
        return false;
    }
    static const uint8_t unknown_mac[6] = {0};
    write_ethernet(interface, frame, broadcast_mac, ETHERNET_TYPE_ARP);
    write_arp(interface, frame + ETHERNET_HEADER_SIZE, ARP_REQUEST, unknown_mac, address);
    send(interface, token, padded(frame, ETHERNET_HEADER_SIZE + ARP_SIZE));
    virtio_net_flush(&interface->nic);
    return true;
}

static enum verdict handle_arp(struct net_interface *interface, const uint8_t *arp, size_t length) {
    if (length < ARP_SIZE || load16(arp) != ARP_HARDWARE_ETHERNET ||
        load16(arp + 2) != ETHERNET_TYPE_IPV4 || arp[4] != 6 || arp[5] != 4) {
        return DROPPED;
    }
    const uint16_t operation = load16(arp + 6);
    const uint8_t *sender_mac = arp + 8;
    const uint32_t sender_address = load32(arp + 14);
    const uint32_t target_address = load32(arp + 24);
    const bool for_us = interface->address != 0 && target_address == interface->address;
    arp_learn(interface, sender_address, sender_mac, for_us);
    if (operation == ARP_REPLY) {
        return for_us ? HANDLED : DROPPED;
    }
    if (operation != ARP_REQUEST || !for_us) {
        return DROPPED;
    }
    uint16_t token;
    uint8_t *reply = virtio_net_transmit_buffer(&interface->nic, &token);
    if (reply == NULL) {
        return DROPPED;
    }
    write_ethernet(interface, reply, sender_mac, ETHERNET_TYPE_ARP);
    write_arp(interface, reply + ETHERNET_HEADER_SIZE, ARP_REPLY, sender_mac, sender_address);
    send(interface, token, padded(reply, ETHERNET_HEADER_SIZE + ARP_SIZE));
    ++interface->counters.arp_replies;
    return HANDLED;
}

static void write_ipv4(struct net_interface *interface, uint8_t *ip, uint32_t dst_address,
                       uint8_t protocol, size_t payload_length, uint16_t identification,
                       uint16_t flags) {
    ip[0] = 0x45;  // version 4, 5 words, no options
    ip[1] = 0;
    store16(ip + 2, (uint16_t)(IPV4_HEADER_SIZE + payload_length));
    store16(ip + 4, identification);
    store16(ip + 6, flags);
    ip[8] = IPV4_DEFAULT_TTL;
    ip[9] = protocol;
    store16(ip + 10, 0);
    store32(ip + 12, interface->address);
    store32(ip + 16, dst_address);
    store16(ip + 10, checksum_finish(checksum_add(0, ip, IPV4_HEADER_SIZE)));
}

// A transmit buffer with Ethernet and IPv4 headers for a reply carrying
// `payload_length` bytes; NULL when it would not fit the MTU or no buffer
// is free. *payload points where the reply's payload goes.
static uint8_t *begin_reply(struct net_interface *interface, uint16_t *token,
                            const uint8_t dst_mac[6], uint32_t dst_address, uint8_t protocol,
                            size_t payload_length, uint8_t **payload) {
    if (IPV4_HEADER_SIZE + payload_length > interface->nic.mtu) {
        return NULL;
    }
    uint8_t *frame = virtio_net_transmit_buffer(&interface->nic, token);
    if (frame == NULL) {
        return NULL;
    }
    write_ethernet(interface, frame, dst_mac, ETHERNET_TYPE_IPV4);
    write_ipv4(interface, frame + ETHERNET_HEADER_SIZE, dst_address, protocol, payload_length,
               interface->next_ip_id++, 0);
    *payload = frame + ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE;
    return frame;
}

static enum verdict handle_icmp(struct net_interface *interface, const uint8_t *src_mac,
                                uint32_t src_address, const uint8_t *icmp, size_t length) {
    if (length < ICMP_HEADER_SIZE) {
        return DROPPED;
    }
    if (checksum_finish(checksum_add(0, icmp, length)) != 0) {
        return BAD_CHECKSUM;
    }
    if (icmp[0] != ICMP_ECHO_REQUEST || icmp[1] != 0) {
        return DROPPED;
    }
    uint16_t token;
    uint8_t *reply_icmp;
    uint8_t *frame =
        begin_reply(interface, &token, src_mac, src_address, IP_PROTOCOL_ICMP, length, &reply_icmp);
    if (frame == NULL) {
        return DROPPED;
    }
    // Same identifier, sequence number and data; new type and checksum.
    memcpy(reply_icmp, icmp, length);
    reply_icmp[0] = ICMP_ECHO_REPLY;
    reply_icmp[1] = 0;
    store16(reply_icmp + 2, 0);
    store16(reply_icmp + 2, checksum_finish(checksum_add(0, reply_icmp, length)));
    send(interface, token, padded(frame, ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + length));
    ++interface->counters.echo_replies;
    return HANDLED;
}

uint32_t net_udp_sum(uint32_t src, uint32_t dst, const uint8_t *udp, size_t udp_length) {
    uint32_t sum = 0;
    sum = checksum_add16(sum, (uint16_t)(src >> 16));
    sum = checksum_add16(sum, (uint16_t)src);
    sum = checksum_add16(sum, (uint16_t)(dst >> 16));
    sum = checksum_add16(sum, (uint16_t)dst);
    sum = checksum_add16(sum, IP_PROTOCOL_UDP);
    sum = checksum_add16(sum, (uint16_t)udp_length);
    return checksum_add(sum, udp, udp_length);
}

uint16_t net_udp_checksum_value(uint32_t sum) {
    uint16_t value = checksum_finish(sum);
    return value == 0 ? 0xffff : value;
}

static enum verdict handle_udp(struct net_interface *interface, const uint8_t *src_mac,
                               uint32_t src_address, const uint8_t *udp, size_t length) {
    if (length < UDP_HEADER_SIZE) {
        return DROPPED;
    }
    const uint16_t udp_length = load16(udp + 4);
    if (udp_length < UDP_HEADER_SIZE || udp_length > length) {
        return DROPPED;
    }
    // Checksum 0: the sender computed none (allowed over IPv4).
    if (load16(udp + 6) != 0 &&
        checksum_finish(net_udp_sum(src_address, interface->address, udp, udp_length)) != 0) {
        return BAD_CHECKSUM;
    }
    if (load16(udp + 2) != NET_UDP_ECHO_PORT) {
        return DROPPED;
    }
    uint16_t token;
    uint8_t *reply_udp;
    uint8_t *frame = begin_reply(interface, &token, src_mac, src_address, IP_PROTOCOL_UDP,
                                 udp_length, &reply_udp);
    if (frame == NULL) {
        return DROPPED;
    }
    store16(reply_udp, NET_UDP_ECHO_PORT);
    store16(reply_udp + 2, load16(udp));
    store16(reply_udp + 4, udp_length);
    store16(reply_udp + 6, 0);
    memcpy(reply_udp + UDP_HEADER_SIZE, udp + UDP_HEADER_SIZE, udp_length - UDP_HEADER_SIZE);
    store16(reply_udp + 6, net_udp_checksum_value(
                               net_udp_sum(interface->address, src_address, reply_udp, udp_length)));
    send(interface, token, padded(frame, ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + udp_length));
    ++interface->counters.udp_echoes;
    return HANDLED;
}

static enum verdict handle_ipv4(struct net_interface *interface, const uint8_t *src_mac,
                                const uint8_t *ip, size_t length) {
    if (length < IPV4_HEADER_SIZE || ip[0] >> 4 != 4) {
        return DROPPED;
    }
    const size_t header_length = (size_t)(ip[0] & 0x0f) * 4;
    if (header_length < IPV4_HEADER_SIZE || header_length > length) {
        return DROPPED;
    }
    if (checksum_finish(checksum_add(0, ip, header_length)) != 0) {
        return BAD_CHECKSUM;
    }
    const size_t total_length = load16(ip + 2);
    if (total_length < header_length || total_length > length) {
        return DROPPED;
    }
    // Fragments are not reassembled: an echo request larger than the MTU
    // goes unanswered.
    if ((load16(ip + 6) & IPV4_FLAGS_FRAGMENT_MASK) != 0) {
        return DROPPED;
    }
    if (interface->address == 0 || load32(ip + 16) != interface->address) {
        return DROPPED;
    }
    const uint32_t src_address = load32(ip + 12);
    const uint8_t *payload = ip + header_length;
    const size_t payload_length = total_length - header_length;
    switch (ip[9]) {
    case IP_PROTOCOL_ICMP:
        return handle_icmp(interface, src_mac, src_address, payload, payload_length);
    case IP_PROTOCOL_UDP:
        return handle_udp(interface, src_mac, src_address, payload, payload_length);
    default:
        return DROPPED;
    }
}

static enum verdict handle_frame(struct net_interface *interface, const uint8_t *frame,
                                 size_t length) {
    if (length < ETHERNET_HEADER_SIZE) {
        return DROPPED;
    }
    // The device may deliver everything it sees (QEMU's starts promiscuous).
    if (memcmp(frame, interface->nic.mac, 6) != 0 && memcmp(frame, broadcast_mac, 6) != 0) {
        return DROPPED;
    }
    const uint8_t *src_mac = frame + 6;
    const uint8_t *payload = frame + ETHERNET_HEADER_SIZE;
    const size_t payload_length = length - ETHERNET_HEADER_SIZE;
    switch (load16(frame + 12)) {
    case ETHERNET_TYPE_ARP:
        return handle_arp(interface, payload, payload_length);
    case ETHERNET_TYPE_IPV4:
        return handle_ipv4(interface, src_mac, payload, payload_length);
    default:
        return DROPPED;
    }
}

unsigned net_poll(struct net_interface *interface) {
    unsigned handled = 0;
    const uint8_t *frame;
    size_t length;
    uint16_t token;
    while ((frame = virtio_net_receive(&interface->nic, &length, &token)) != NULL) {
        ++interface->counters.received;
        interface->counters.received_bytes += length;
        switch (handle_frame(interface, frame, length)) {
        case HANDLED:
            break;
        case BAD_CHECKSUM:
            ++interface->counters.checksum_errors;
            ++interface->counters.dropped;
            break;
        case DROPPED:
            ++interface->counters.dropped;
            break;
        }
        virtio_net_receive_done(&interface->nic, token);
        ++handled;
    }
    if (handled > 0) {
        virtio_net_flush(&interface->nic);
    }
    return handled;
}

size_t net_build_udp(struct net_interface *interface, uint8_t *frame, const uint8_t dst_mac[6],
                     uint32_t dst_address, uint16_t src_port, uint16_t dst_port,
                     size_t payload_length) {
    const size_t udp_length = UDP_HEADER_SIZE + payload_length;
    write_ethernet(interface, frame, dst_mac, ETHERNET_TYPE_IPV4);
    // Don't-fragment with a fixed identification: every flood frame may
    // share one header (RFC 6864 lets atomic datagrams repeat the ID).
    write_ipv4(interface, frame + ETHERNET_HEADER_SIZE, dst_address, IP_PROTOCOL_UDP, udp_length, 0,
               IPV4_FLAG_DONT_FRAGMENT);
    uint8_t *udp = frame + ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE;
    store16(udp, src_port);
    store16(udp + 2, dst_port);
    store16(udp + 4, (uint16_t)udp_length);
    store16(udp + 6, 0);
    return padded(frame, ETHERNET_HEADER_SIZE + IPV4_HEADER_SIZE + udp_length);
}
