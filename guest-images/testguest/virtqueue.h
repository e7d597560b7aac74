// A split virtqueue (virtio 1.x, 2.7) in memory the caller provides. One
// descriptor per buffer, no chains, no indirect descriptors, no event
// index: descriptor i always describes buffer i of the owner's buffer
// array, so a descriptor number is also a buffer number.
#pragma once

#include "virtio_transport.h"

#include <stdbool.h>
#include <stdint.h>

#define VIRTQUEUE_SIZE_MAX 256
#define VIRTQUEUE_PAGE 4096

#define VIRTQ_DESC_F_WRITE 2
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_desc {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};

#define VIRTQ_AVAIL_F_NO_INTERRUPT 1

struct virtq_avail {
    uint16_t flags;
    uint16_t index;
    uint16_t ring[VIRTQUEUE_SIZE_MAX];
    uint16_t used_event;  // unused: no VIRTIO_F_EVENT_IDX
};

struct virtq_used_elem {
    uint32_t id;
    uint32_t length;
};

struct virtq_used {
    uint16_t flags;
    uint16_t index;
    struct virtq_used_elem ring[VIRTQUEUE_SIZE_MAX];
    uint16_t avail_event;
};

// The three ring areas, each on its own page (more alignment than the
// spec's 16/2/4 bytes asks for, and simple to reason about).
struct virtqueue_memory {
    struct virtq_desc descriptors[VIRTQUEUE_SIZE_MAX];
    _Alignas(VIRTQUEUE_PAGE) struct virtq_avail available;
    _Alignas(VIRTQUEUE_PAGE) struct virtq_used used;
} __attribute__((aligned(VIRTQUEUE_PAGE)));

struct virtqueue {
    struct virtio_transport *transport;
    struct virtqueue_memory *memory;
    uint16_t queue;  // index on the device
    uint16_t size;  // a power of two, at most VIRTQUEUE_SIZE_MAX
    uint16_t next_available;  // the driver's copy of available.index
    uint16_t last_used;  // the used.index value consumed so far
    uint16_t free_count;
    uint16_t free[VIRTQUEUE_SIZE_MAX];  // stack of descriptor numbers not with the device
    uint16_t unnotified;  // buffers made available since the last notify
};

// Clears the rings, asks the device for its maximum size, takes
// min(maximum, VIRTQUEUE_SIZE_MAX) rounded down to a power of two, and
// enables the queue. Descriptors are empty until virtqueue_submit.
bool virtqueue_setup(struct virtqueue *queue, struct virtio_transport *transport,
                     uint16_t queue_index, struct virtqueue_memory *memory,
                     const char **problem);

// A descriptor number the device does not hold, or -1 when all are out.
int virtqueue_take_free(struct virtqueue *queue);

// Makes descriptor `id` (taken with virtqueue_take_free, or just returned
// by virtqueue_next_used) available, describing `length` bytes at
// `address`; `device_writes` for receive buffers.
void virtqueue_submit(struct virtqueue *queue, uint16_t id, uint64_t address, uint32_t length,
                      bool device_writes);

// Tells the device about submitted buffers, unless it asked not to be
// told (VIRTQ_USED_F_NO_NOTIFY) or there are none.
void virtqueue_notify(struct virtqueue *queue);

// The next buffer the device has finished with: true and its descriptor
// number and used length, or false when there is none. The descriptor
// now belongs to the caller (submit it again, or virtqueue_release it).
bool virtqueue_next_used(struct virtqueue *queue, uint16_t *id, uint32_t *length);

void virtqueue_release(struct virtqueue *queue, uint16_t id);
