// A polling virtio-net driver over any virtio_transport. Negotiates
// VERSION_1 (required) and MAC, MTU, STATUS when offered; no checksum,
// segmentation or merged-buffer offloads, so every frame arrives whole and
// checksummed in one receive buffer and leaves the same way.
#pragma once

#include "virtio_transport.h"
#include "virtqueue.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VIRTIO_NET_RECEIVE_QUEUE 0
#define VIRTIO_NET_TRANSMIT_QUEUE 1

// struct virtio_net_hdr with VERSION_1: always 12 bytes (num_buffers is
// present whether or not MRG_RXBUF is negotiated).
#define VIRTIO_NET_HEADER_SIZE 12
#define VIRTIO_NET_BUFFER_SIZE 2048
#define VIRTIO_NET_FRAME_MAX (VIRTIO_NET_BUFFER_SIZE - VIRTIO_NET_HEADER_SIZE)
#define ETHERNET_HEADER_SIZE 14
#define VIRTIO_NET_DEFAULT_MTU 1500
#define VIRTIO_NET_MINIMUM_MTU 68
#define VIRTIO_NET_MAXIMUM_MTU (VIRTIO_NET_FRAME_MAX - ETHERNET_HEADER_SIZE)

// Rings and buffers of one NIC; lives in RAM outside the loaded image
// (network_memory.h), so an unused NIC costs nothing.
struct virtio_net_memory {
    struct virtqueue_memory receive_ring;
    struct virtqueue_memory transmit_ring;
    uint8_t receive_buffers[VIRTQUEUE_SIZE_MAX][VIRTIO_NET_BUFFER_SIZE];
    uint8_t transmit_buffers[VIRTQUEUE_SIZE_MAX][VIRTIO_NET_BUFFER_SIZE];
};

struct virtio_net {
    struct virtio_transport transport;
    struct virtio_net_memory *memory;
    struct virtqueue receive;
    struct virtqueue transmit;
    uint64_t features;  // negotiated
    uint8_t mac[6];
    bool mac_from_device;
    bool link_up;  // true unless STATUS was negotiated and says down
    uint16_t mtu;
};

// Initialises the device behind `net->transport` (already opened) with
// rings and buffers in `memory`; `index` picks the fallback MAC
// 02:73:6b:66:00:<index> when the device has none. On failure sets the
// FAILED status, returns false and says why in *problem.
bool virtio_net_start(struct virtio_net *net, struct virtio_net_memory *memory, unsigned index,
                      const char **problem);

// The next received frame (from the Ethernet header on) or NULL. The
// buffer stays the caller's until virtio_net_receive_done(token).
const uint8_t *virtio_net_receive(struct virtio_net *net, size_t *length, uint16_t *token);
void virtio_net_receive_done(struct virtio_net *net, uint16_t token);

// A transmit buffer for one frame of up to VIRTIO_NET_FRAME_MAX bytes, or
// NULL when every buffer is with the device (finished ones are reclaimed
// first). Send it with virtio_net_transmit.
uint8_t *virtio_net_transmit_buffer(struct virtio_net *net, uint16_t *token);
void virtio_net_transmit(struct virtio_net *net, uint16_t token, size_t length);

// Notifies the device of receive buffers given back and frames queued.
void virtio_net_flush(struct virtio_net *net);

// Transmit buffers the device has not finished with.
unsigned virtio_net_transmit_in_flight(const struct virtio_net *net);
