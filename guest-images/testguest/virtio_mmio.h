// virtio-mmio, version 2 (virtio 1.x "modern") register layout. Devices
// come from virtio_mmio.device=<size>@<base>:<irq> words on the command
// line (Linux's syntax) and from probing skiff's fixed slots.
#pragma once

#include "cmdline.h"
#include "virtio_transport.h"

#include <stdbool.h>
#include <stdint.h>

// Register offsets (virtio 1.x, 4.2.2).
#define MMIO_MAGIC 0x000
#define MMIO_VERSION 0x004
#define MMIO_DEVICE_ID 0x008
#define MMIO_DEVICE_FEATURES 0x010
#define MMIO_DEVICE_FEATURES_SELECT 0x014
#define MMIO_DRIVER_FEATURES 0x020
#define MMIO_DRIVER_FEATURES_SELECT 0x024
#define MMIO_QUEUE_SELECT 0x030
#define MMIO_QUEUE_SIZE_MAX 0x034
#define MMIO_QUEUE_SIZE 0x038
#define MMIO_QUEUE_READY 0x044
#define MMIO_QUEUE_NOTIFY 0x050
#define MMIO_STATUS 0x070
#define MMIO_QUEUE_DESCRIPTOR_LOW 0x080
#define MMIO_QUEUE_DESCRIPTOR_HIGH 0x084
#define MMIO_QUEUE_DRIVER_LOW 0x090
#define MMIO_QUEUE_DRIVER_HIGH 0x094
#define MMIO_QUEUE_DEVICE_LOW 0x0a0
#define MMIO_QUEUE_DEVICE_HIGH 0x0a4
#define MMIO_CONFIG_GENERATION 0x0fc
#define MMIO_CONFIG 0x100

// skiff's slots: PLATFORM_VIRTIO_MMIO_START, one page each.
#define VIRTIO_MMIO_PROBED_SLOTS 8

enum virtio_mmio_probe {
    VIRTIO_MMIO_ABSENT,  // no magic value, or device ID 0 (an empty transport)
    VIRTIO_MMIO_LEGACY,  // version 1 (legacy): not supported
    VIRTIO_MMIO_OTHER_DEVICE,  // some other virtio device
    VIRTIO_MMIO_NET,
};

// What sits at `base` (reads magic, version and device ID only).
enum virtio_mmio_probe virtio_mmio_probe(uint64_t base);

// The base addresses named by virtio_mmio.device= words, in command-line
// order; at most `capacity` stored, the count of valid words returned.
// Words that do not parse are reported on the console and skipped.
unsigned virtio_mmio_from_cmdline(const struct cmdline *cmdline, uint64_t *bases,
                                  unsigned capacity);

// A transport for the version-2 device at `base`.
void virtio_mmio_open(struct virtio_transport *transport, uint64_t base);
