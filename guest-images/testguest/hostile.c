#include "hostile.h"

#include "console.h"
#include "io.h"
#include "platform.h"
#include "string.h"
#include "virtio_mmio.h"
#include "virtqueue.h"
#include "x86.h"

#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTIO_F_RING_INDIRECT_DESC (1ull << 28)
#define VIRTIO_F_RING_EVENT_IDX (1ull << 29)

// struct virtio_pci_common_cfg (virtio 1.x, 4.1.4.3).
#define COMMON_DEVICE_STATUS 0x14
#define COMMON_QUEUE_SELECT 0x16
#define COMMON_QUEUE_SIZE 0x18
#define COMMON_QUEUE_ENABLE 0x1c
#define COMMON_QUEUE_NOTIFY_OFFSET 0x1e
#define COMMON_QUEUE_DESCRIPTOR 0x20
#define COMMON_QUEUE_DEVICE_END 0x38
#define COMMON_SIZE 0x40
#define PCI_NOTIFY_REGION_SIZE 0x1000

#define PCI_CAPABILITY_MSIX 0x11
#define PCI_MSIX_ENABLE_BYTE_BIT 0x80  // bit 15 of message control, in its high byte
#define PCI_CONFIG_SIZE 256
#define PCI_BAR_END (PCI_BAR0 + 4 * PCI_BARS)

#define RING_ATTACKS_PER_ROUND 6
#define QUEUE_ATTACKS_PER_ROUND 6
#define FEATURE_ATTACKS_PER_ROUND 6
#define REGISTER_ACCESSES_PER_ROUND 600
#define CONFIG_WRITES_PER_ROUND 300
#define PCI_CONFIG_WRITES_PER_ROUND 300
#define NOTIFICATIONS_PER_ROUND 30000
// How many single accesses between two calls of `serve`.
#define BURST 64
#define NOTIFY_BURST 1500

struct attack {
    const struct hostile_target *target;
    struct virtio_transport *transport;
    void (*serve)(void);
    struct hostile_report *report;
    uint64_t random;
    uint64_t scratch;  // the target's ring and buffer memory
    uint64_t scratch_size;
    uint8_t msix_capability;  // 0: none
    // pci: where each queue's notifications go, as the device last said
    // (0: ask it); a flood reuses them instead of asking per write.
    uint64_t notify_address[VIRTIO_TRANSPORT_QUEUES];
};

static uint64_t next_random(struct attack *attack) {
    uint64_t x = attack->random;  // xorshift64 (Marsaglia)
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    attack->random = x;
    return x;
}

static uint64_t below(struct attack *attack, uint64_t bound) {
    return bound == 0 ? 0 : next_random(attack) % bound;
}

// --- what the attack writes ------------------------------------------------

// An address the device must refuse: not RAM, or in the middle of the MMIO
// hole, or about to overflow. Never RAM the guest uses.
static uint64_t bad_address(struct attack *attack) {
    static const uint64_t holes[] = {
        PLATFORM_MMIO_HOLE_START, PLATFORM_BOOT_DOORBELL, PLATFORM_VIRTIO_MMIO_START,
        PLATFORM_IOAPIC,          PLATFORM_LOCAL_APIC,    0xfffff000ull,
    };
    uint64_t address;
    switch (below(attack, 6)) {
    case 0:  // past the end of RAM, below the hole
        address = 0x80000000ull + (below(attack, 0x40000000ull) & ~0xfull);
        break;
    case 1:
        address = holes[below(attack, sizeof(holes) / sizeof(holes[0]))] + (below(attack, 0x100) & ~0xfull);
        break;
    case 2:
        address = attack->target->registers + (below(attack, 0x100) & ~0xfull);
        break;
    case 3:  // far above 4 GiB
        address = 0x10000000000ull + (next_random(attack) & 0xffffffff0ull);
        break;
    case 4:  // addr + len overflows
        address = 0xfffffffffffff000ull + (below(attack, 0x1000) & ~0xfull);
        break;
    default:
        address = next_random(attack) | 0x8000000000000000ull;
        break;
    }
    if (boot_info_is_ram(attack->target->boot_info, address, 1)) {
        address = 0xfffff000ull;
    }
    return address;
}

// Somewhere in the target's scratch memory (the device may write there).
static uint64_t scratch_address(struct attack *attack, uint64_t length, uint64_t alignment) {
    uint64_t room = attack->scratch_size > length ? attack->scratch_size - length : 0;
    return attack->scratch + (below(attack, room) & ~(alignment - 1));
}

static uint32_t odd_length(struct attack *attack) {
    static const uint32_t lengths[] = {0, 1, 11, 12, 13, 15, 16, 17, 2048, 4095, 65536, 0x7fffffff,
                                       0x80000000u, 0xffffffffu};
    return lengths[below(attack, sizeof(lengths) / sizeof(lengths[0]))];
}

// One descriptor as a hostile driver would write it. Indirect tables go
// into `table_area` (scratch), themselves filled with garbage, nested.
static void garbage_descriptor(struct attack *attack, struct virtq_desc *descriptor, uint16_t index,
                               uint16_t size, bool transmit, unsigned depth) {
    uint64_t address = scratch_address(attack, VIRTIO_NET_BUFFER_SIZE, 16);
    uint32_t length = VIRTIO_NET_BUFFER_SIZE;
    uint16_t flags = transmit ? 0 : VIRTQ_DESC_F_WRITE;
    uint16_t next = 0;
    switch (below(attack, 12)) {
    case 0:  // outside RAM, or in an MMIO hole
        address = bad_address(attack);
        length = (uint32_t)below(attack, 0x10000);
        break;
    case 1:  // addr + len wraps around
        address = 0xffffffffffffffffull - below(attack, 0x800);
        length = 0x1000 + (uint32_t)below(attack, 0x10000);
        break;
    case 2:  // zero length
        length = 0;
        break;
    case 3:  // a loop through `next`
        flags |= VIRTQ_DESC_F_NEXT;
        next = below(attack, 2) ? index : (uint16_t)((index + 1) % size);
        break;
    case 4:  // next out of range
        flags |= VIRTQ_DESC_F_NEXT;
        next = (uint16_t)(size + below(attack, 0x10000 - size));
        break;
    case 5:  // indirect table of a bad size, or out of RAM
        flags = VIRTQ_DESC_F_INDIRECT | (uint16_t)(below(attack, 2) ? VIRTQ_DESC_F_NEXT : 0);
        length = odd_length(attack);
        if (below(attack, 3) == 0) {
            address = bad_address(attack);
        }
        break;
    case 6:
    case 7: {  // an indirect table of garbage, possibly nesting another
        const uint16_t entries = (uint16_t)(1 + below(attack, 32));
        address = scratch_address(attack, entries * sizeof(struct virtq_desc), 16);
        length = entries * (uint32_t)sizeof(struct virtq_desc);
        flags = VIRTQ_DESC_F_INDIRECT;
        struct virtq_desc *table = (struct virtq_desc *)(uintptr_t)address;
        for (uint16_t entry = 0; entry < entries; ++entry) {
            if (depth < 2 && below(attack, 4) == 0) {
                garbage_descriptor(attack, &table[entry], entry, entries, transmit, depth + 1);
                table[entry].flags |= VIRTQ_DESC_F_INDIRECT;  // nested: forbidden
            } else {
                table[entry] = (struct virtq_desc){
                    .address = below(attack, 2) ? bad_address(attack)
                                                : scratch_address(attack, 64, 1),
                    .length = below(attack, 2) ? odd_length(attack) : 64,
                    .flags = (uint16_t)below(attack, 8),
                    .next = (uint16_t)below(attack, entries + 2u),
                };
            }
        }
        break;
    }
    case 8:  // the wrong direction: write-only on transmit, read-only on receive
        flags = transmit ? VIRTQ_DESC_F_WRITE : 0;
        break;
    case 9:  // a chain whose parts are too short to hold a header
        flags |= VIRTQ_DESC_F_NEXT;
        length = (uint32_t)below(attack, 12);
        next = (uint16_t)below(attack, size);
        break;
    case 10:  // random bits everywhere
        flags = (uint16_t)next_random(attack);
        length = (uint32_t)next_random(attack);
        next = (uint16_t)next_random(attack);
        if (below(attack, 2)) {
            address = bad_address(attack);
        }
        break;
    default:  // plausible: keeps the device's fast path busy too
        length = (uint32_t)(VIRTIO_NET_HEADER_SIZE + below(attack, 1600));
        break;
    }
    *descriptor = (struct virtq_desc){.address = address, .length = length, .flags = flags, .next = next};
}

// --- raw register access ------------------------------------------------------

static void raw_write(uint64_t address, unsigned size, uint64_t value) {
    switch (size) {
    case 1:
        mmio_write8(address, (uint8_t)value);
        break;
    case 2:
        mmio_write16(address, (uint16_t)value);
        break;
    case 4:
        mmio_write32(address, (uint32_t)value);
        break;
    default:
        mmio_write64(address, value);
        break;
    }
}

static uint64_t raw_read(uint64_t address, unsigned size) {
    switch (size) {
    case 1:
        return mmio_read8(address);
    case 2:
        return mmio_read16(address);
    case 4:
        return mmio_read32(address);
    default:
        return mmio_read64(address);
    }
}

static unsigned random_size(struct attack *attack) {
    return 1u << below(attack, 4);  // 1, 2, 4 or 8
}

static void set_status(struct attack *attack, uint8_t status) {
    attack->transport->ops->set_status(attack->transport, status);
}

// Reset, ACKNOWLEDGE, DRIVER, features (offered ones only, as picked), and
// FEATURES_OK: the state in which queues are set up.
static void negotiate(struct attack *attack, bool honest) {
    struct virtio_transport *transport = attack->transport;
    set_status(attack, 0);
    set_status(attack, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    uint64_t offered = (uint64_t)transport->ops->device_features(transport, 1) << 32 |
                       transport->ops->device_features(transport, 0);
    uint64_t wanted = VIRTIO_F_VERSION_1 | VIRTIO_F_RING_INDIRECT_DESC;
    if (below(attack, 2)) {
        wanted |= VIRTIO_F_RING_EVENT_IDX;
    }
    uint64_t features = honest ? offered & wanted : next_random(attack);
    transport->ops->set_driver_features(transport, 0, (uint32_t)features);
    transport->ops->set_driver_features(transport, 1, (uint32_t)(features >> 32));
    set_status(attack, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
}

static void driver_ok(struct attack *attack) {
    set_status(attack, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK |
                           VIRTIO_STATUS_DRIVER_OK);
}

static uint16_t queue_maximum(struct attack *attack, uint16_t queue) {
    return attack->transport->ops->queue_max_size(attack->transport, queue);
}

// Programs a queue register by register, without the driver's checks.
static void program_queue(struct attack *attack, uint16_t queue, uint32_t size, uint64_t descriptors,
                          uint64_t driver_area, uint64_t device_area, bool enable) {
    const uint64_t base = attack->target->registers;
    if (!attack->target->pci) {
        mmio_write32(base + MMIO_QUEUE_SELECT, queue);
        mmio_write32(base + MMIO_QUEUE_SIZE, size);
        const uint64_t values[3] = {descriptors, driver_area, device_area};
        for (unsigned area = 0; area < 3; ++area) {
            mmio_write32(base + MMIO_QUEUE_DESCRIPTOR_LOW + 0x10 * area, (uint32_t)values[area]);
            mmio_write32(base + MMIO_QUEUE_DESCRIPTOR_LOW + 0x10 * area + 4,
                         (uint32_t)(values[area] >> 32));
        }
        if (enable) {
            mmio_write32(base + MMIO_QUEUE_READY, 1);
        }
        return;
    }
    const uint64_t common = attack->transport->common;
    mmio_write16(common + COMMON_QUEUE_SELECT, queue);
    mmio_write16(common + COMMON_QUEUE_SIZE, (uint16_t)size);
    const uint64_t values[3] = {descriptors, driver_area, device_area};
    for (unsigned area = 0; area < 3; ++area) {
        if (below(attack, 2)) {
            mmio_write64(common + COMMON_QUEUE_DESCRIPTOR + 8 * area, values[area]);
        } else {
            mmio_write32(common + COMMON_QUEUE_DESCRIPTOR + 8 * area, (uint32_t)values[area]);
            mmio_write32(common + COMMON_QUEUE_DESCRIPTOR + 8 * area + 4, (uint32_t)(values[area] >> 32));
        }
    }
    if (enable) {
        mmio_write16(common + COMMON_QUEUE_ENABLE, 1);
    }
}

// A notification for `queue` (any number) where the transport takes them.
static void notify(struct attack *attack, uint16_t queue) {
    const struct hostile_target *target = attack->target;
    if (!target->pci) {
        mmio_write32(target->registers + MMIO_QUEUE_NOTIFY, queue);
        return;
    }
    const uint64_t common = attack->transport->common;
    uint16_t offset = (uint16_t)queue;  // for a queue that does not exist: a slot no queue has
    if (queue < VIRTIO_TRANSPORT_QUEUES && attack->notify_address[queue] != 0) {
        mmio_write16(attack->notify_address[queue], queue);
        return;
    }
    if (queue < VIRTIO_TRANSPORT_QUEUES) {
        mmio_write16(common + COMMON_QUEUE_SELECT, queue);
        offset = mmio_read16(common + COMMON_QUEUE_NOTIFY_OFFSET);
    }
    uint64_t address = attack->transport->notify_base + (uint64_t)offset * attack->transport->notify_multiplier;
    if (address + 2 > attack->transport->notify_base + PCI_NOTIFY_REGION_SIZE) {
        address = attack->transport->notify_base + (queue & (PCI_NOTIFY_REGION_SIZE - 2));
    }
    mmio_write16(address, queue);
}

// --- the attacks -------------------------------------------------------------

// Live queues (honestly negotiated, DRIVER_OK) whose descriptors, rings and
// indices are garbage; then notified.
static void attack_rings(struct attack *attack) {
    negotiate(attack, true);
    struct virtqueue_memory *rings[VIRTIO_TRANSPORT_QUEUES] = {&attack->target->memory->receive_ring,
                                                               &attack->target->memory->transmit_ring};
    uint16_t sizes[VIRTIO_TRANSPORT_QUEUES];
    for (uint16_t queue = 0; queue < VIRTIO_TRANSPORT_QUEUES; ++queue) {
        uint16_t size = queue_maximum(attack, queue);
        size = size < VIRTQUEUE_SIZE_MAX ? size : VIRTQUEUE_SIZE_MAX;
        while ((size & (size - 1)) != 0) {
            size &= (uint16_t)(size - 1);
        }
        sizes[queue] = size == 0 ? 1 : size;
        memset(rings[queue], 0, sizeof(*rings[queue]));
        program_queue(attack, queue, sizes[queue], (uint64_t)(uintptr_t)rings[queue]->descriptors,
                      (uint64_t)(uintptr_t)&rings[queue]->available, (uint64_t)(uintptr_t)&rings[queue]->used,
                      true);
    }
    driver_ok(attack);
    for (uint16_t queue = 0; queue < VIRTIO_TRANSPORT_QUEUES; ++queue) {
        struct virtqueue_memory *ring = rings[queue];
        const uint16_t size = sizes[queue];
        for (uint16_t index = 0; index < size; ++index) {
            garbage_descriptor(attack, &ring->descriptors[index], index, size, queue == 1, 0);
        }
        for (uint16_t slot = 0; slot < size; ++slot) {
            ring->available.ring[slot] =
                (uint16_t)(below(attack, 8) == 0 ? next_random(attack) : below(attack, size));
        }
        ring->available.flags = (uint16_t)below(attack, 4);
        uint16_t index;
        switch (below(attack, 4)) {
        case 0:  // far ahead of anything the ring holds
            index = (uint16_t)(size + 1 + below(attack, 0x10000 - size - 1));
            break;
        case 1:
            index = 0xffff;
            break;
        default:
            index = (uint16_t)(1 + below(attack, size));
            break;
        }
        memory_barrier();
        ring->available.index = index;
        memory_barrier();
        notify(attack, queue);
        ++attack->report->notifications;
    }
    attack->serve();
    // Move the index again while the device may be working on the ring.
    for (uint16_t queue = 0; queue < VIRTIO_TRANSPORT_QUEUES; ++queue) {
        rings[queue]->available.index = (uint16_t)(rings[queue]->available.index + below(attack, 0x10000));
        memory_barrier();
        notify(attack, queue);
        ++attack->report->notifications;
    }
    ++attack->report->ring_attacks;
    ++attack->report->operations;
}

// Queues the device must refuse at DRIVER_OK: odd sizes, ring addresses
// outside RAM or in MMIO, unaligned, one queue enabled without the other.
static void attack_queue_setup(struct attack *attack) {
    static const uint32_t sizes[] = {0, 1, 3, 7, 100, 255, 257, 512, 1024, 0x8000, 0xffff, 0x10000, 0xffffffffu};
    negotiate(attack, true);
    const uint16_t queues = (uint16_t)(VIRTIO_TRANSPORT_QUEUES + below(attack, 2));
    for (uint16_t queue = 0; queue < queues; ++queue) {
        uint64_t areas[3];
        for (unsigned area = 0; area < 3; ++area) {
            switch (below(attack, 3)) {
            case 0:
                areas[area] = scratch_address(attack, 8192, 1) | 1;  // misaligned
                break;
            default:
                areas[area] = bad_address(attack);
                break;
            }
        }
        uint32_t size = below(attack, 2) ? sizes[below(attack, sizeof(sizes) / sizeof(sizes[0]))]
                                         : (uint32_t)queue_maximum(attack, queue) + 1;
        program_queue(attack, queue, size, areas[0], areas[1], areas[2], below(attack, 4) != 0);
    }
    driver_ok(attack);
    for (uint16_t queue = 0; queue < queues; ++queue) {
        notify(attack, queue);
        ++attack->report->notifications;
    }
    (void)attack->transport->ops->status(attack->transport);
    ++attack->report->operations;
}

// Features the device never offered, selectors past the last word, status
// bits in every order.
static void attack_features(struct attack *attack) {
    struct virtio_transport *transport = attack->transport;
    set_status(attack, 0);
    set_status(attack, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    for (uint32_t word = 0; word < 4; ++word) {
        transport->ops->set_driver_features(transport, word + (uint32_t)below(attack, 2) * (uint32_t)next_random(attack),
                                            below(attack, 2) ? 0xffffffffu : (uint32_t)next_random(attack));
    }
    set_status(attack, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    (void)transport->ops->status(transport);
    driver_ok(attack);
    for (unsigned write = 0; write < 4; ++write) {
        set_status(attack, (uint8_t)next_random(attack));
        (void)transport->ops->status(transport);
    }
    // Features written after FEATURES_OK, queues after DRIVER_OK.
    negotiate(attack, true);
    driver_ok(attack);
    transport->ops->set_driver_features(transport, 0, 0xffffffffu);
    program_queue(attack, 0, 3, bad_address(attack), bad_address(attack), bad_address(attack), true);
    ++attack->report->operations;
}

// Does [offset, offset + size) touch [start, end)?
static bool overlaps(uint64_t offset, unsigned size, uint64_t start, uint64_t end) {
    return offset < end && offset + size > start;
}

// Random reads and writes anywhere in the register window, every size,
// aligned or not. Values bound for ring-address registers are non-RAM.
static void attack_registers(struct attack *attack, unsigned count) {
    const struct hostile_target *target = attack->target;
    set_status(attack, 0);  // no ring addresses left over from a valid set-up
    for (unsigned access = 0; access < count; ++access) {
        const unsigned size = random_size(attack);
        const uint64_t interesting = target->pci ? COMMON_SIZE : MMIO_CONFIG;
        uint64_t offset = below(attack, 2) ? below(attack, interesting + 8) : below(attack, target->register_span);
        if (offset + size > target->register_span) {
            offset = target->register_span - size;
        }
        const uint64_t address = target->registers + offset;
        if (below(attack, 3) == 0) {
            (void)raw_read(address, size);
        } else {
            uint64_t value = next_random(attack);
            const bool ring_register =
                target->pci ? overlaps(offset, size, COMMON_QUEUE_DESCRIPTOR, COMMON_QUEUE_DEVICE_END)
                            : overlaps(offset, size, MMIO_QUEUE_DESCRIPTOR_LOW, MMIO_QUEUE_DEVICE_HIGH + 4);
            if (ring_register) {
                value = ~0ull;  // whatever part lands where: never RAM
            }
            raw_write(address, size, value);
        }
        ++attack->report->register_accesses;
        ++attack->report->operations;
        if (access % BURST == BURST - 1) {
            attack->serve();
        }
    }
}

// The device-specific configuration (virtio-net's MAC, status, MTU...):
// random writes and reads, in and past it.
static void attack_device_config(struct attack *attack, unsigned count) {
    const struct hostile_target *target = attack->target;
    const uint64_t base = target->pci ? attack->transport->device : target->registers + MMIO_CONFIG;
    const uint64_t span = target->pci ? 0x1000 : target->register_span - MMIO_CONFIG;
    for (unsigned access = 0; access < count; ++access) {
        const unsigned size = random_size(attack);
        uint64_t offset = below(attack, 4) != 0 ? below(attack, 0x40) : below(attack, span);
        if (offset + size > span) {
            offset = span - size;
        }
        if (below(attack, 4) == 0) {
            (void)raw_read(base + offset, size);
        } else {
            raw_write(base + offset, size, next_random(attack));
            ++attack->report->config_writes;
        }
        ++attack->report->operations;
        if (access % BURST == BURST - 1) {
            attack->serve();
        }
    }
}

static uint8_t find_msix(struct pci_function function) {
    if ((pci_read16(function, PCI_STATUS) & PCI_STATUS_CAPABILITIES) == 0) {
        return 0;
    }
    uint8_t position = pci_read8(function, PCI_CAPABILITIES_POINTER) & 0xfc;
    for (unsigned walked = 0; position != 0 && walked < 48; ++walked) {
        if (pci_read8(function, position) == PCI_CAPABILITY_MSIX) {
            return position;
        }
        position = pci_read8(function, (uint8_t)(position + 1)) & 0xfc;
    }
    return 0;
}

// Random writes to the target's configuration space: command, BARs (never
// onto the avoided range), capabilities, the virtio PCI-configuration
// window. MSI-X stays disabled. Restores command and BARs afterwards.
static void attack_pci_config(struct attack *attack, unsigned count) {
    const struct hostile_target *target = attack->target;
    const struct pci_function function = target->function;
    uint32_t saved_bars[PCI_BARS];
    for (unsigned bar = 0; bar < PCI_BARS; ++bar) {
        saved_bars[bar] = pci_read32(function, (uint8_t)(PCI_BAR0 + 4 * bar));
    }
    const uint16_t saved_command = pci_read16(function, PCI_COMMAND);
    const uint8_t msix = attack->msix_capability;
    for (unsigned write = 0; write < count; ++write) {
        unsigned size = 1u << below(attack, 3);
        uint8_t offset = (uint8_t)below(attack, PCI_CONFIG_SIZE);
        if (below(attack, 8) != 0) {
            offset = (uint8_t)(offset & ~(size - 1));  // mostly aligned; sometimes across the data port
        }
        if (below(attack, 4) == 0) {
            offset = (uint8_t)(PCI_BAR0 + 4 * below(attack, PCI_BARS + 1));  // BARs and the ROM
            size = 4;
        }
        uint32_t value = (uint32_t)next_random(attack);
        if (overlaps(offset, size, PCI_BAR0, PCI_BAR_END)) {
            // A BAR onto another device's registers would break that device,
            // as on real hardware; the target alone is under attack.
            const uint64_t span = target->register_span;
            const uint64_t base = value & ~0xfull;
            if (target->avoid_end != 0 && base < target->avoid_end && base + span > target->avoid_start) {
                continue;
            }
        }
        if (msix != 0 && overlaps(offset, size, (uint8_t)(msix + 3), (uint8_t)(msix + 4))) {
            value &= ~((uint32_t)PCI_MSIX_ENABLE_BYTE_BIT << (8 * (msix + 3 - offset)));
        }
        if (size == 4 && (offset & 3) == 0) {
            pci_write32(function, offset, value);
        } else if (size == 2 && (offset & 1) == 0) {
            pci_write16(function, offset, (uint16_t)value);
        } else if (size == 1) {
            pci_write8(function, offset, (uint8_t)value);
        } else {
            // Misaligned: the data port access reaches past 0xcff.
            outl(0xcf8, 0x80000000u | (uint32_t)function.slot << 11 | (uint32_t)function.function << 8 |
                            (offset & 0xfcu));
            const uint16_t port = (uint16_t)(0xcfc + (offset & 3u));
            if (size == 2) {
                outw(port, (uint16_t)value);
            } else {
                outl(port, value);
            }
        }
        (void)pci_read32(function, (uint8_t)(offset & 0xfc));
        ++attack->report->pci_config_writes;
        ++attack->report->operations;
        if (write % BURST == BURST - 1) {
            attack->serve();
        }
    }
    // Put the function back where the rest of the attack (and the restart)
    // expects it: decoding off while the BARs move back.
    pci_write16(function, PCI_COMMAND, (uint16_t)(saved_command & ~PCI_COMMAND_MEMORY));
    for (unsigned bar = 0; bar < PCI_BARS; ++bar) {
        pci_write32(function, (uint8_t)(PCI_BAR0 + 4 * bar), saved_bars[bar]);
    }
    if (msix != 0) {
        pci_write16(function, (uint8_t)(msix + 2), 0);
    }
    pci_write16(function, PCI_COMMAND, saved_command);
}

// Hundreds of thousands of notifications, mostly for the live queues,
// some for queues that do not exist.
static void attack_notifications(struct attack *attack, unsigned count) {
    if (attack->target->pci) {
        // Asked once per flood: a notification is then one write.
        for (uint16_t queue = 0; queue < VIRTIO_TRANSPORT_QUEUES; ++queue) {
            attack->notify_address[queue] = 0;
            uint64_t address = attack->transport->notify_base;
            mmio_write16(attack->transport->common + COMMON_QUEUE_SELECT, queue);
            address += (uint64_t)mmio_read16(attack->transport->common + COMMON_QUEUE_NOTIFY_OFFSET) *
                       attack->transport->notify_multiplier;
            if (address + 2 <= attack->transport->notify_base + PCI_NOTIFY_REGION_SIZE) {
                attack->notify_address[queue] = address;
            }
        }
    }
    for (unsigned sent = 0; sent < count; ++sent) {
        uint16_t queue = (uint16_t)below(attack, VIRTIO_TRANSPORT_QUEUES);
        if (below(attack, 16) == 0) {
            queue = (uint16_t)next_random(attack);
        }
        notify(attack, queue);
        ++attack->report->notifications;
        if (sent % NOTIFY_BURST == NOTIFY_BURST - 1) {
            attack->serve();
        }
    }
    attack->notify_address[0] = attack->notify_address[1] = 0;
    ++attack->report->operations;
}

void hostile_run(const struct hostile_target *target, uint64_t rounds, uint64_t seed,
                 void (*serve)(void), struct hostile_report *report) {
    struct attack attack = {
        .target = target,
        .transport = &target->nic->transport,
        .serve = serve,
        .report = report,
        .random = seed != 0 ? seed : 0x9e3779b97f4a7c15ull,
        .scratch = (uint64_t)(uintptr_t)target->memory,
        .scratch_size = sizeof(*target->memory),
        .msix_capability = target->pci ? find_msix(target->function) : 0,
    };
    memset(report, 0, sizeof(*report));
    console_printf("skiff-testguest: hostile start target=%s registers=%#lx span=%#lx seed=%lu rounds=%lu\n",
                   target->pci ? "pci" : "mmio", target->registers, target->register_span, attack.random,
                   rounds);
    for (uint64_t round = 1; round <= rounds; ++round) {
        for (unsigned attempt = 0; attempt < RING_ATTACKS_PER_ROUND; ++attempt) {
            attack_rings(&attack);
            serve();
        }
        attack_notifications(&attack, NOTIFICATIONS_PER_ROUND / 2);  // on garbage rings
        for (unsigned attempt = 0; attempt < QUEUE_ATTACKS_PER_ROUND; ++attempt) {
            attack_queue_setup(&attack);
            serve();
        }
        for (unsigned attempt = 0; attempt < FEATURE_ATTACKS_PER_ROUND; ++attempt) {
            attack_features(&attack);
            serve();
        }
        attack_registers(&attack, REGISTER_ACCESSES_PER_ROUND);
        attack_device_config(&attack, CONFIG_WRITES_PER_ROUND);
        if (target->pci) {
            attack_pci_config(&attack, PCI_CONFIG_WRITES_PER_ROUND);
        }
        attack_rings(&attack);
        attack_notifications(&attack, NOTIFICATIONS_PER_ROUND / 2);
        report->rounds = round;
        console_printf("skiff-testguest: hostile round %lu operations=%lu notifications=%lu\n", round,
                       report->operations, report->notifications);
    }
}
