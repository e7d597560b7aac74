#include "virtqueue.h"

#include "io.h"
#include "string.h"

bool virtqueue_setup(struct virtqueue *queue, struct virtio_transport *transport,
                     uint16_t queue_index, struct virtqueue_memory *memory,
                     const char **problem) {
    uint16_t maximum = transport->ops->queue_max_size(transport, queue_index);
    if (maximum == 0) {
        *problem = "queue not available";
        return false;
    }
    uint16_t size = maximum < VIRTQUEUE_SIZE_MAX ? maximum : VIRTQUEUE_SIZE_MAX;
    while ((size & (size - 1)) != 0) {
        size &= (uint16_t)(size - 1);  // split rings have power-of-two sizes
    }
    memset(memory, 0, sizeof(*memory));
    // The guest polls and has no interrupt handlers: it tells the device
    // not to interrupt, which saves the VMM an interrupt per batch.
    memory->available.flags = VIRTQ_AVAIL_F_NO_INTERRUPT;
    *queue = (struct virtqueue){
        .transport = transport,
        .memory = memory,
        .queue = queue_index,
        .size = size,
        .free_count = size,
    };
    for (uint16_t id = 0; id < size; ++id) {
        queue->free[id] = (uint16_t)(size - 1 - id);  // hands out 0 first
    }
    if (!transport->ops->queue_enable(transport, queue_index, size,
                                      (uint64_t)(uintptr_t)memory->descriptors,
                                      (uint64_t)(uintptr_t)&memory->available,
                                      (uint64_t)(uintptr_t)&memory->used)) {
        *problem = "device refused the queue";
        return false;
    }
    return true;
}

int virtqueue_take_free(struct virtqueue *queue) {
    return queue->free_count == 0 ? -1 : queue->free[--queue->free_count];
}

void virtqueue_release(struct virtqueue *queue, uint16_t id) {
    if (queue->free_count < queue->size) {
        queue->free[queue->free_count++] = id;
    }
}

void virtqueue_submit(struct virtqueue *queue, uint16_t id, uint64_t address, uint32_t length,
                      bool device_writes) {
    struct virtqueue_memory *memory = queue->memory;
    memory->descriptors[id] = (struct virtq_desc){
        .address = address,
        .length = length,
        .flags = device_writes ? VIRTQ_DESC_F_WRITE : 0,
    };
    volatile struct virtq_avail *available = &memory->available;
    available->ring[queue->next_available & (queue->size - 1)] = id;
    // The descriptor and ring entry must be visible before the index that
    // publishes them; x86 keeps stores in order, the compiler must too.
    compiler_barrier();
    available->index = ++queue->next_available;
    ++queue->unnotified;
}

void virtqueue_notify(struct virtqueue *queue) {
    if (queue->unnotified == 0) {
        return;
    }
    queue->unnotified = 0;
    // Store (available.index) then load (used.flags): the one ordering x86
    // does not keep by itself. Without it the device could have set
    // NO_NOTIFY, gone idle, and our skipped notify would strand buffers.
    memory_barrier();
    volatile const struct virtq_used *used = &queue->memory->used;
    if ((used->flags & VIRTQ_USED_F_NO_NOTIFY) == 0) {
        queue->transport->ops->notify(queue->transport, queue->queue);
    }
}

bool virtqueue_next_used(struct virtqueue *queue, uint16_t *id, uint32_t *length) {
    volatile const struct virtq_used *used = &queue->memory->used;
    if (used->index == queue->last_used) {
        return false;
    }
    // The element is read after the index (loads stay in order on x86).
    compiler_barrier();
    const volatile struct virtq_used_elem *element = &used->ring[queue->last_used & (queue->size - 1)];
    uint32_t used_id = element->id;
    *length = element->length;
    ++queue->last_used;
    // A device that names a descriptor it was never given is broken; hand
    // back something harmless rather than index out of bounds.
    *id = (uint16_t)(used_id < queue->size ? used_id : 0);
    return used_id < queue->size;
}
