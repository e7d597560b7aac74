#include "virtio_mmio.h"

#include "console.h"
#include "io.h"
#include "parse.h"

#define MMIO_MAGIC_VALUE 0x74726976  // "virt"
#define MMIO_VERSION_LEGACY 1
#define MMIO_VERSION_MODERN 2
// The smallest register block that holds the registers above plus the
// net device's configuration.
#define MMIO_MINIMUM_SIZE 0x200

enum virtio_mmio_probe virtio_mmio_probe(uint64_t base) {
    if (mmio_read32(base + MMIO_MAGIC) != MMIO_MAGIC_VALUE) {
        return VIRTIO_MMIO_ABSENT;
    }
    uint32_t version = mmio_read32(base + MMIO_VERSION);
    if (version == MMIO_VERSION_LEGACY) {
        return VIRTIO_MMIO_LEGACY;
    }
    if (version != MMIO_VERSION_MODERN) {
        return VIRTIO_MMIO_ABSENT;
    }
    switch (mmio_read32(base + MMIO_DEVICE_ID)) {
    case 0:
        return VIRTIO_MMIO_ABSENT;  // a transport with no device behind it
    case VIRTIO_DEVICE_ID_NET:
        return VIRTIO_MMIO_NET;
    default:
        return VIRTIO_MMIO_OTHER_DEVICE;
    }
}

// "<size>@<base>:<irq>[:<id>]", size with an optional K/M/G suffix, as
// Linux's virtio_mmio module parameter takes it.
static bool parse_device(const char *text, size_t length, uint64_t *base) {
    const char *cursor = text;
    const char *end = text + length;
    uint64_t size, irq;
    if (!parse_unsigned(&cursor, end, &size)) {
        return false;
    }
    if (cursor < end && (*cursor == 'K' || *cursor == 'k')) {
        size <<= 10;
        ++cursor;
    } else if (cursor < end && (*cursor == 'M' || *cursor == 'm')) {
        size <<= 20;
        ++cursor;
    } else if (cursor < end && (*cursor == 'G' || *cursor == 'g')) {
        size <<= 30;
        ++cursor;
    }
    if (cursor == end || *cursor++ != '@' || !parse_unsigned(&cursor, end, base) ||
        cursor == end || *cursor++ != ':' || !parse_unsigned(&cursor, end, &irq)) {
        return false;
    }
    if (cursor < end && *cursor == ':') {
        uint64_t id;
        ++cursor;
        if (!parse_unsigned(&cursor, end, &id)) {
            return false;
        }
    }
    // The registers must fit and lie in the uncached top GiB of the map.
    return cursor == end && size >= MMIO_MINIMUM_SIZE && *base >= 0xc0000000ull &&
           *base + size <= 0x100000000ull && *base % 4 == 0;
}

unsigned virtio_mmio_from_cmdline(const struct cmdline *cmdline, uint64_t *bases,
                                  unsigned capacity) {
    unsigned count = 0;
    for (const struct cmdline_option *option = cmdline_find(cmdline, "virtio_mmio.device", 0);
         option != NULL;
         option = cmdline_find(cmdline, "virtio_mmio.device", (size_t)(option - cmdline->options) + 1)) {
        uint64_t base;
        if (option->value == NULL || !parse_device(option->value, option->value_length, &base)) {
            console_printf("skiff-testguest: ignoring virtio_mmio.device=%.*s\n",
                           (int)option->value_length, option->value != NULL ? option->value : "");
            continue;
        }
        if (count < capacity) {
            bases[count] = base;
        }
        ++count;
    }
    return count;
}

static uint8_t mmio_status(const struct virtio_transport *transport) {
    return (uint8_t)mmio_read32(transport->location + MMIO_STATUS);
}

static void mmio_set_status(const struct virtio_transport *transport, uint8_t status) {
    mmio_write32(transport->location + MMIO_STATUS, status);
}

static uint32_t mmio_device_features(const struct virtio_transport *transport, uint32_t word) {
    mmio_write32(transport->location + MMIO_DEVICE_FEATURES_SELECT, word);
    return mmio_read32(transport->location + MMIO_DEVICE_FEATURES);
}

static void mmio_set_driver_features(const struct virtio_transport *transport, uint32_t word,
                                     uint32_t features) {
    mmio_write32(transport->location + MMIO_DRIVER_FEATURES_SELECT, word);
    mmio_write32(transport->location + MMIO_DRIVER_FEATURES, features);
}

static uint16_t mmio_queue_max_size(const struct virtio_transport *transport, uint16_t queue) {
    mmio_write32(transport->location + MMIO_QUEUE_SELECT, queue);
    uint32_t size = mmio_read32(transport->location + MMIO_QUEUE_SIZE_MAX);
    return size > 0xffff ? 0xffff : (uint16_t)size;
}

static bool mmio_queue_enable(struct virtio_transport *transport, uint16_t queue, uint16_t size,
                              uint64_t descriptors, uint64_t driver_area, uint64_t device_area) {
    const uint64_t base = transport->location;
    mmio_write32(base + MMIO_QUEUE_SELECT, queue);
    if (mmio_read32(base + MMIO_QUEUE_READY) != 0) {
        return false;
    }
    mmio_write32(base + MMIO_QUEUE_SIZE, size);
    mmio_write32(base + MMIO_QUEUE_DESCRIPTOR_LOW, (uint32_t)descriptors);
    mmio_write32(base + MMIO_QUEUE_DESCRIPTOR_HIGH, (uint32_t)(descriptors >> 32));
    mmio_write32(base + MMIO_QUEUE_DRIVER_LOW, (uint32_t)driver_area);
    mmio_write32(base + MMIO_QUEUE_DRIVER_HIGH, (uint32_t)(driver_area >> 32));
    mmio_write32(base + MMIO_QUEUE_DEVICE_LOW, (uint32_t)device_area);
    mmio_write32(base + MMIO_QUEUE_DEVICE_HIGH, (uint32_t)(device_area >> 32));
    mmio_write32(base + MMIO_QUEUE_READY, 1);
    return mmio_read32(base + MMIO_QUEUE_READY) == 1;
}

static void mmio_notify(const struct virtio_transport *transport, uint16_t queue) {
    mmio_write32(transport->location + MMIO_QUEUE_NOTIFY, queue);
}

static uint8_t mmio_config_read8(const struct virtio_transport *transport, uint32_t offset) {
    return mmio_read8(transport->location + MMIO_CONFIG + offset);
}

static uint16_t mmio_config_read16(const struct virtio_transport *transport, uint32_t offset) {
    return mmio_read16(transport->location + MMIO_CONFIG + offset);
}

static uint32_t mmio_config_generation(const struct virtio_transport *transport) {
    return mmio_read32(transport->location + MMIO_CONFIG_GENERATION);
}

static const struct virtio_transport_ops mmio_ops = {
    .status = mmio_status,
    .set_status = mmio_set_status,
    .device_features = mmio_device_features,
    .set_driver_features = mmio_set_driver_features,
    .queue_max_size = mmio_queue_max_size,
    .queue_enable = mmio_queue_enable,
    .notify = mmio_notify,
    .config_read8 = mmio_config_read8,
    .config_read16 = mmio_config_read16,
    .config_generation = mmio_config_generation,
};

void virtio_mmio_open(struct virtio_transport *transport, uint64_t base) {
    *transport = (struct virtio_transport){.ops = &mmio_ops, .kind = "mmio", .location = base};
}
