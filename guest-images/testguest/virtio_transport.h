// What the virtio-net driver needs from a virtio transport (virtio 1.x,
// "modern" only): status, feature words, queue set-up, notification and
// the device-specific configuration. virtio_mmio.c and virtio_pci.c fill
// in `ops`; the driver never looks at the transport's registers itself.
#pragma once

#include <stdbool.h>
#include <stdint.h>

// Device status bits (virtio 1.x, 2.1).
#define VIRTIO_STATUS_ACKNOWLEDGE 0x01
#define VIRTIO_STATUS_DRIVER 0x02
#define VIRTIO_STATUS_DRIVER_OK 0x04
#define VIRTIO_STATUS_FEATURES_OK 0x08
#define VIRTIO_STATUS_FAILED 0x80

// Transport-level feature bits.
#define VIRTIO_F_VERSION_1 (1ull << 32)
#define VIRTIO_F_ACCESS_PLATFORM (1ull << 33)

#define VIRTIO_DEVICE_ID_NET 1

// The queues the driver uses (virtio-net: receive 0, transmit 1).
#define VIRTIO_TRANSPORT_QUEUES 2

struct virtio_transport;

struct virtio_transport_ops {
    uint8_t (*status)(const struct virtio_transport *transport);
    void (*set_status)(const struct virtio_transport *transport, uint8_t status);
    // Feature bits 32 * word .. 32 * word + 31.
    uint32_t (*device_features)(const struct virtio_transport *transport, uint32_t word);
    void (*set_driver_features)(const struct virtio_transport *transport, uint32_t word,
                                uint32_t features);
    // The largest size the device allows for `queue`; 0 when it does not exist.
    uint16_t (*queue_max_size)(const struct virtio_transport *transport, uint16_t queue);
    // Programs size and ring addresses and enables `queue`; false when the
    // device refuses (queue already live, notify address unusable).
    bool (*queue_enable)(struct virtio_transport *transport, uint16_t queue, uint16_t size,
                         uint64_t descriptors, uint64_t driver_area, uint64_t device_area);
    void (*notify)(const struct virtio_transport *transport, uint16_t queue);
    uint8_t (*config_read8)(const struct virtio_transport *transport, uint32_t offset);
    uint16_t (*config_read16)(const struct virtio_transport *transport, uint32_t offset);
    uint32_t (*config_generation)(const struct virtio_transport *transport);
};

struct virtio_transport {
    const struct virtio_transport_ops *ops;
    const char *kind;  // "mmio" or "pci", for the console report
    uint64_t location;  // register block (mmio) or common configuration (pci)
    // virtio-pci: the capability structures' addresses.
    uint64_t common;
    uint64_t device;
    uint64_t notify_base;
    uint32_t notify_multiplier;
    uint64_t notify[VIRTIO_TRANSPORT_QUEUES];  // per-queue notify address (pci)
};
