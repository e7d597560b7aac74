#include "virtio_pci.h"

#include "console.h"
#include "io.h"

// struct virtio_pci_cap field offsets, and cfg_type values.
#define CAP_NEXT 1
#define CAP_CONFIG_TYPE 3
#define CAP_BAR 4
#define CAP_OFFSET 8
#define CAP_LENGTH 12
#define CAP_NOTIFY_MULTIPLIER 16
#define CONFIG_COMMON 1
#define CONFIG_NOTIFY 2
#define CONFIG_ISR 3
#define CONFIG_DEVICE 4
#define CONFIG_TYPES 5
// A capability list is at most 48 entries long (192 bytes of config space,
// 4 bytes each); a longer walk means a loop.
#define MAX_CAPABILITIES 48

// struct virtio_pci_common_cfg offsets.
#define COMMON_DEVICE_FEATURE_SELECT 0
#define COMMON_DEVICE_FEATURE 4
#define COMMON_DRIVER_FEATURE_SELECT 8
#define COMMON_DRIVER_FEATURE 12
#define COMMON_DEVICE_STATUS 20
#define COMMON_CONFIG_GENERATION 21
#define COMMON_QUEUE_SELECT 22
#define COMMON_QUEUE_SIZE 24
#define COMMON_QUEUE_ENABLE 28
#define COMMON_QUEUE_NOTIFY_OFFSET 30
#define COMMON_QUEUE_DESCRIPTOR 32
#define COMMON_QUEUE_DRIVER 40
#define COMMON_QUEUE_DEVICE 48
#define COMMON_MINIMUM_LENGTH 56

struct capability {
    bool found;
    uint8_t bar;
    uint32_t offset;
    uint32_t length;
    uint32_t notify_multiplier;
};

static uint8_t pci_status(const struct virtio_transport *transport) {
    return mmio_read8(transport->common + COMMON_DEVICE_STATUS);
}

static void pci_set_status(const struct virtio_transport *transport, uint8_t status) {
    mmio_write8(transport->common + COMMON_DEVICE_STATUS, status);
}

static uint32_t pci_device_features(const struct virtio_transport *transport, uint32_t word) {
    mmio_write32(transport->common + COMMON_DEVICE_FEATURE_SELECT, word);
    return mmio_read32(transport->common + COMMON_DEVICE_FEATURE);
}

static void pci_set_driver_features(const struct virtio_transport *transport, uint32_t word,
                                    uint32_t features) {
    mmio_write32(transport->common + COMMON_DRIVER_FEATURE_SELECT, word);
    mmio_write32(transport->common + COMMON_DRIVER_FEATURE, features);
}

static uint16_t pci_queue_max_size(const struct virtio_transport *transport, uint16_t queue) {
    mmio_write16(transport->common + COMMON_QUEUE_SELECT, queue);
    return mmio_read16(transport->common + COMMON_QUEUE_SIZE);
}

// 64-bit fields as two 32-bit writes, low half first (virtio 1.x, 4.1.3.1).
static void write_split64(uint64_t address, uint64_t value) {
    mmio_write32(address, (uint32_t)value);
    mmio_write32(address + 4, (uint32_t)(value >> 32));
}

static bool pci_queue_enable(struct virtio_transport *transport, uint16_t queue, uint16_t size,
                             uint64_t descriptors, uint64_t driver_area, uint64_t device_area) {
    const uint64_t common = transport->common;
    if (queue >= VIRTIO_TRANSPORT_QUEUES) {
        return false;
    }
    mmio_write16(common + COMMON_QUEUE_SELECT, queue);
    if (mmio_read16(common + COMMON_QUEUE_ENABLE) != 0) {
        return false;
    }
    mmio_write16(common + COMMON_QUEUE_SIZE, size);
    write_split64(common + COMMON_QUEUE_DESCRIPTOR, descriptors);
    write_split64(common + COMMON_QUEUE_DRIVER, driver_area);
    write_split64(common + COMMON_QUEUE_DEVICE, device_area);
    uint64_t notify = transport->notify_base +
                      (uint64_t)mmio_read16(common + COMMON_QUEUE_NOTIFY_OFFSET) *
                          transport->notify_multiplier;
    if (notify + 2 > 0x100000000ull) {
        return false;
    }
    transport->notify[queue] = notify;
    mmio_write16(common + COMMON_QUEUE_ENABLE, 1);
    return true;
}

static void pci_notify(const struct virtio_transport *transport, uint16_t queue) {
    mmio_write16(transport->notify[queue], queue);
}

static uint8_t pci_config_read8(const struct virtio_transport *transport, uint32_t offset) {
    return mmio_read8(transport->device + offset);
}

static uint16_t pci_config_read16(const struct virtio_transport *transport, uint32_t offset) {
    return mmio_read16(transport->device + offset);
}

static uint32_t pci_config_generation(const struct virtio_transport *transport) {
    return mmio_read8(transport->common + COMMON_CONFIG_GENERATION);
}

static const struct virtio_transport_ops pci_ops = {
    .status = pci_status,
    .set_status = pci_set_status,
    .device_features = pci_device_features,
    .set_driver_features = pci_set_driver_features,
    .queue_max_size = pci_queue_max_size,
    .queue_enable = pci_queue_enable,
    .notify = pci_notify,
    .config_read8 = pci_config_read8,
    .config_read16 = pci_config_read16,
    .config_generation = pci_config_generation,
};

// The first capability of each configuration type (the spec lets a device
// offer several; the driver should use the first it understands).
static bool find_capabilities(struct pci_function function, struct capability *found) {
    if ((pci_read16(function, PCI_STATUS) & PCI_STATUS_CAPABILITIES) == 0) {
        return false;
    }
    uint8_t position = pci_read8(function, PCI_CAPABILITIES_POINTER) & 0xfc;
    for (unsigned walked = 0; position != 0 && walked < MAX_CAPABILITIES; ++walked) {
        if (pci_read8(function, position) == PCI_CAPABILITY_VENDOR) {
            uint8_t type = pci_read8(function, (uint8_t)(position + CAP_CONFIG_TYPE));
            uint8_t bar = pci_read8(function, (uint8_t)(position + CAP_BAR));
            if (type > 0 && type < CONFIG_TYPES && !found[type].found && bar < PCI_BARS) {
                found[type] = (struct capability){
                    .found = true,
                    .bar = bar,
                    .offset = pci_read32(function, (uint8_t)(position + CAP_OFFSET)),
                    .length = pci_read32(function, (uint8_t)(position + CAP_LENGTH)),
                    .notify_multiplier =
                        type == CONFIG_NOTIFY
                            ? pci_read32(function, (uint8_t)(position + CAP_NOTIFY_MULTIPLIER))
                            : 0,
                };
            }
        }
        position = pci_read8(function, (uint8_t)(position + CAP_NEXT)) & 0xfc;
    }
    return true;
}

bool virtio_pci_open(struct virtio_transport *transport, struct pci_function function,
                     bool reassign, const char **problem) {
    struct capability capabilities[CONFIG_TYPES] = {0};
    if (!find_capabilities(function, capabilities)) {
        *problem = "no capability list";
        return false;
    }
    if (!capabilities[CONFIG_COMMON].found || !capabilities[CONFIG_NOTIFY].found ||
        !capabilities[CONFIG_DEVICE].found) {
        *problem = "virtio capabilities missing (common, notify or device)";
        return false;
    }
    if (capabilities[CONFIG_COMMON].length < COMMON_MINIMUM_LENGTH) {
        *problem = "common configuration too short";
        return false;
    }
    // Each BAR once, even when several structures share it (they usually do).
    uint64_t bar_addresses[PCI_BARS] = {0};
    bool bar_resolved[PCI_BARS] = {false};
    uint64_t addresses[CONFIG_TYPES] = {0};
    for (unsigned type = 1; type < CONFIG_TYPES; ++type) {
        const struct capability *capability = &capabilities[type];
        if (!capability->found) {
            continue;
        }
        if (!bar_resolved[capability->bar]) {
            bool placed;
            bar_addresses[capability->bar] =
                pci_memory_bar(function, capability->bar, reassign, &placed);
            bar_resolved[capability->bar] = true;
            if (placed) {
                console_printf("skiff-testguest: pci 00:%02x.%u BAR%u placed at %#lx\n",
                               function.slot, function.function, capability->bar,
                               bar_addresses[capability->bar]);
            }
        }
        if (bar_addresses[capability->bar] == 0) {
            *problem = "a virtio capability's BAR has no usable memory address";
            return false;
        }
        addresses[type] = bar_addresses[capability->bar] + capability->offset;
        if (addresses[type] + capability->length > 0x100000000ull) {
            *problem = "a virtio structure lies beyond 4 GiB";
            return false;
        }
    }
    uint16_t command = pci_read16(function, PCI_COMMAND);
    pci_write16(function, PCI_COMMAND,
                command | PCI_COMMAND_MEMORY | PCI_COMMAND_BUS_MASTER | PCI_COMMAND_INTX_DISABLE);
    *transport = (struct virtio_transport){
        .ops = &pci_ops,
        .kind = "pci",
        .location = addresses[CONFIG_COMMON],
        .common = addresses[CONFIG_COMMON],
        .device = addresses[CONFIG_DEVICE],
        .notify_base = addresses[CONFIG_NOTIFY],
        .notify_multiplier = capabilities[CONFIG_NOTIFY].notify_multiplier,
    };
    return true;
}
