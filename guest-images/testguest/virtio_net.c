#include "virtio_net.h"

#include "io.h"
#include "string.h"

// Feature bits of the net device (virtio 1.x, 5.1.3).
#define VIRTIO_NET_F_MTU (1ull << 3)
#define VIRTIO_NET_F_MAC (1ull << 5)
#define VIRTIO_NET_F_STATUS (1ull << 16)

// struct virtio_net_config offsets.
#define CONFIG_MAC 0
#define CONFIG_STATUS 6
#define CONFIG_MTU 10
#define VIRTIO_NET_S_LINK_UP 1

#define RESET_SPINS 1000000

static bool fail(struct virtio_net *net, const char **problem, const char *why) {
    net->transport.ops->set_status(&net->transport, VIRTIO_STATUS_FAILED);
    *problem = why;
    return false;
}

static uint64_t device_features(const struct virtio_transport *transport) {
    return (uint64_t)transport->ops->device_features(transport, 1) << 32 |
           transport->ops->device_features(transport, 0);
}

// Reads the configuration fields the driver uses, retrying while the
// device changes them underneath (config_generation moves).
static void read_config(struct virtio_net *net, uint64_t offered, uint16_t *mtu) {
    const struct virtio_transport *transport = &net->transport;
    uint32_t generation;
    do {
        generation = transport->ops->config_generation(transport);
        if (offered & VIRTIO_NET_F_MAC) {
            for (unsigned byte = 0; byte < 6; ++byte) {
                net->mac[byte] = transport->ops->config_read8(transport, CONFIG_MAC + byte);
            }
        }
        *mtu = (offered & VIRTIO_NET_F_MTU) ? transport->ops->config_read16(transport, CONFIG_MTU)
                                            : VIRTIO_NET_DEFAULT_MTU;
        net->link_up = (offered & VIRTIO_NET_F_STATUS) == 0 ||
                       (transport->ops->config_read16(transport, CONFIG_STATUS) &
                        VIRTIO_NET_S_LINK_UP) != 0;
    } while (generation != transport->ops->config_generation(transport));
}

static bool negotiate(struct virtio_net *net, unsigned index, const char **problem) {
    const struct virtio_transport *transport = &net->transport;
    uint64_t offered = device_features(transport);
    if ((offered & VIRTIO_F_VERSION_1) == 0) {
        return fail(net, problem, "device does not offer VIRTIO_F_VERSION_1");
    }
    uint16_t device_mtu;
    read_config(net, offered, &device_mtu);
    // ACCESS_PLATFORM: addresses go through the platform's DMA translation,
    // which is the identity here; refusing it would only fail FEATURES_OK.
    uint64_t wanted = VIRTIO_F_VERSION_1 | VIRTIO_F_ACCESS_PLATFORM | VIRTIO_NET_F_MAC |
                      VIRTIO_NET_F_STATUS;
    // Taking MTU obliges the driver to receive frames that large; only
    // take it when they fit one buffer.
    net->mtu = VIRTIO_NET_DEFAULT_MTU;
    if ((offered & VIRTIO_NET_F_MTU) && device_mtu >= VIRTIO_NET_MINIMUM_MTU &&
        device_mtu <= VIRTIO_NET_MAXIMUM_MTU) {
        wanted |= VIRTIO_NET_F_MTU;
        net->mtu = device_mtu;
    }
    net->features = offered & wanted;
    net->mac_from_device = (net->features & VIRTIO_NET_F_MAC) != 0;
    if (!net->mac_from_device) {
        const uint8_t fallback[6] = {0x02, 0x73, 0x6b, 0x66, 0x00, (uint8_t)index};
        memcpy(net->mac, fallback, sizeof(fallback));
    }
    transport->ops->set_driver_features(transport, 0, (uint32_t)net->features);
    transport->ops->set_driver_features(transport, 1, (uint32_t)(net->features >> 32));
    transport->ops->set_status(transport, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                              VIRTIO_STATUS_FEATURES_OK);
    if ((transport->ops->status(transport) & VIRTIO_STATUS_FEATURES_OK) == 0) {
        return fail(net, problem, "device refused the features (FEATURES_OK not kept)");
    }
    return true;
}

bool virtio_net_start(struct virtio_net *net, struct virtio_net_memory *memory, unsigned index,
                      const char **problem) {
    struct virtio_transport *transport = &net->transport;
    net->memory = memory;
    transport->ops->set_status(transport, 0);
    unsigned spins = 0;
    while (transport->ops->status(transport) != 0) {
        if (++spins == RESET_SPINS) {
            return fail(net, problem, "device does not finish its reset");
        }
        cpu_relax();
    }
    transport->ops->set_status(transport, VIRTIO_STATUS_ACKNOWLEDGE);
    transport->ops->set_status(transport, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    if (!negotiate(net, index, problem)) {
        return false;
    }
    const char *queue_problem;
    if (!virtqueue_setup(&net->receive, transport, VIRTIO_NET_RECEIVE_QUEUE,
                         &memory->receive_ring, &queue_problem) ||
        !virtqueue_setup(&net->transmit, transport, VIRTIO_NET_TRANSMIT_QUEUE,
                         &memory->transmit_ring, &queue_problem)) {
        return fail(net, problem, queue_problem);
    }
    transport->ops->set_status(transport, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER |
                                              VIRTIO_STATUS_FEATURES_OK |
                                              VIRTIO_STATUS_DRIVER_OK);
    // Every receive descriptor gets its buffer once; afterwards a buffer
    // goes back with the same descriptor number.
    for (int id; (id = virtqueue_take_free(&net->receive)) >= 0;) {
        virtqueue_submit(&net->receive, (uint16_t)id,
                         (uint64_t)(uintptr_t)memory->receive_buffers[id], VIRTIO_NET_BUFFER_SIZE,
                         true);
    }
    virtqueue_notify(&net->receive);
    if (transport->ops->status(transport) & VIRTIO_STATUS_FAILED) {
        return fail(net, problem, "device failed after DRIVER_OK");
    }
    return true;
}

const uint8_t *virtio_net_receive(struct virtio_net *net, size_t *length, uint16_t *token) {
    uint16_t id;
    uint32_t used_length;
    while (virtqueue_next_used(&net->receive, &id, &used_length)) {
        if (used_length > VIRTIO_NET_HEADER_SIZE && used_length <= VIRTIO_NET_BUFFER_SIZE) {
            *length = used_length - VIRTIO_NET_HEADER_SIZE;
            *token = id;
            return net->memory->receive_buffers[id] + VIRTIO_NET_HEADER_SIZE;
        }
        virtio_net_receive_done(net, id);  // empty or impossible: give it back
    }
    return NULL;
}

void virtio_net_receive_done(struct virtio_net *net, uint16_t token) {
    virtqueue_submit(&net->receive, token, (uint64_t)(uintptr_t)net->memory->receive_buffers[token],
                     VIRTIO_NET_BUFFER_SIZE, true);
}

uint8_t *virtio_net_transmit_buffer(struct virtio_net *net, uint16_t *token) {
    uint16_t id;
    uint32_t ignored;
    while (virtqueue_next_used(&net->transmit, &id, &ignored)) {
        virtqueue_release(&net->transmit, id);
    }
    int free_id = virtqueue_take_free(&net->transmit);
    if (free_id < 0) {
        return NULL;
    }
    *token = (uint16_t)free_id;
    uint8_t *buffer = net->memory->transmit_buffers[free_id];
    memset(buffer, 0, VIRTIO_NET_HEADER_SIZE);  // no offloads: an all-zero header
    return buffer + VIRTIO_NET_HEADER_SIZE;
}

void virtio_net_transmit(struct virtio_net *net, uint16_t token, size_t length) {
    virtqueue_submit(&net->transmit, token,
                     (uint64_t)(uintptr_t)net->memory->transmit_buffers[token],
                     (uint32_t)(VIRTIO_NET_HEADER_SIZE + length), false);
}

void virtio_net_flush(struct virtio_net *net) {
    virtqueue_notify(&net->receive);
    virtqueue_notify(&net->transmit);
}

unsigned virtio_net_transmit_in_flight(const struct virtio_net *net) {
    return (unsigned)(net->transmit.size - net->transmit.free_count);
}
