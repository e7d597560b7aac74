#include "pci.h"

#include "io.h"
#include "platform.h"

#define PCI_CONFIG_ADDRESS 0xcf8
#define PCI_CONFIG_DATA 0xcfc
#define PCI_CONFIG_ENABLE 0x80000000u
#define PCI_SLOTS 32
#define PCI_FUNCTIONS 8
#define PCI_HEADER_TYPE_MASK 0x7f
#define PCI_HEADER_MULTIFUNCTION 0x80
#define PCI_HEADER_BRIDGE 1

#define PCI_BAR_IO 0x1
#define PCI_BAR_TYPE_MASK 0x6
#define PCI_BAR_TYPE_64 0x4
#define PCI_BAR_MEMORY_MASK 0xfffffff0u

// The top GiB of the identity map is uncached, where device registers
// belong; a BAR below it or above 4 GiB gets moved into the PCI window.
#define USABLE_BAR_START PLATFORM_MMIO_HOLE_START
#define USABLE_BAR_END PLATFORM_MMIO_HOLE_END
#define MINIMUM_BAR_ALIGNMENT 0x1000u
#define MAX_RESERVED_RANGES 128

static uint32_t config_address(struct pci_function function, uint8_t offset) {
    return PCI_CONFIG_ENABLE | (uint32_t)function.bus << 16 | (uint32_t)function.slot << 11 |
           (uint32_t)function.function << 8 | (offset & 0xfcu);
}

uint32_t pci_read32(struct pci_function function, uint8_t offset) {
    outl(PCI_CONFIG_ADDRESS, config_address(function, offset));
    return inl(PCI_CONFIG_DATA);
}

uint16_t pci_read16(struct pci_function function, uint8_t offset) {
    outl(PCI_CONFIG_ADDRESS, config_address(function, offset));
    return inw((uint16_t)(PCI_CONFIG_DATA + (offset & 2u)));
}

uint8_t pci_read8(struct pci_function function, uint8_t offset) {
    outl(PCI_CONFIG_ADDRESS, config_address(function, offset));
    return inb((uint16_t)(PCI_CONFIG_DATA + (offset & 3u)));
}

void pci_write32(struct pci_function function, uint8_t offset, uint32_t value) {
    outl(PCI_CONFIG_ADDRESS, config_address(function, offset));
    outl(PCI_CONFIG_DATA, value);
}

void pci_write16(struct pci_function function, uint8_t offset, uint16_t value) {
    outl(PCI_CONFIG_ADDRESS, config_address(function, offset));
    outw((uint16_t)(PCI_CONFIG_DATA + (offset & 2u)), value);
}

void pci_write8(struct pci_function function, uint8_t offset, uint8_t value) {
    outl(PCI_CONFIG_ADDRESS, config_address(function, offset));
    outb((uint16_t)(PCI_CONFIG_DATA + (offset & 3u)), value);
}

// Vendor 0xffff is what an empty slot reads as; 0 is not a valid vendor
// either (and what some VMMs hand back for ports they do not emulate).
static bool present(uint16_t vendor) {
    return vendor != 0xffff && vendor != 0;
}

// Calls `visit` for every function on bus 0; stops when it returns false.
// A bus without a device at 00:00.0 (the host bridge on every platform the
// guest knows: skiff, QEMU's q35 and pc) counts as no PCI at all, as in
// Linux's sanity check of mechanism #1; that keeps a PCI-less boot at one
// probe instead of 32.
static void for_each_function(bool (*visit)(struct pci_function, uint32_t ids, void *),
                              void *context) {
    if (!present((uint16_t)pci_read32((struct pci_function){0, 0, 0}, PCI_VENDOR_ID))) {
        return;
    }
    for (uint8_t slot = 0; slot < PCI_SLOTS; ++slot) {
        struct pci_function function = {0, slot, 0};
        uint32_t ids = pci_read32(function, PCI_VENDOR_ID);
        if (!present((uint16_t)ids)) {
            continue;
        }
        if (!visit(function, ids, context)) {
            return;
        }
        if ((pci_read8(function, PCI_HEADER_TYPE) & PCI_HEADER_MULTIFUNCTION) == 0) {
            continue;
        }
        for (function.function = 1; function.function < PCI_FUNCTIONS; ++function.function) {
            ids = pci_read32(function, PCI_VENDOR_ID);
            if (present((uint16_t)ids) && !visit(function, ids, context)) {
                return;
            }
        }
    }
}

struct find_context {
    uint32_t ids;
    struct pci_function *found;
    unsigned capacity;
    unsigned count;
};

static bool find_visit(struct pci_function function, uint32_t ids, void *opaque) {
    struct find_context *context = opaque;
    if (ids == context->ids) {
        if (context->count < context->capacity) {
            context->found[context->count] = function;
        }
        ++context->count;
    }
    return true;
}

unsigned pci_find(uint16_t vendor, uint16_t device, struct pci_function *found,
                  unsigned capacity) {
    struct find_context context = {(uint32_t)device << 16 | vendor, found, capacity, 0};
    for_each_function(find_visit, &context);
    return context.count;
}

static unsigned bar_count(struct pci_function function) {
    uint8_t header = pci_read8(function, PCI_HEADER_TYPE) & PCI_HEADER_TYPE_MASK;
    return header == 0 ? PCI_BARS : header == PCI_HEADER_BRIDGE ? 2 : 0;
}

static uint8_t bar_offset(unsigned bar) {
    return (uint8_t)(PCI_BAR0 + 4 * bar);
}

static bool bar_is_64bit(uint32_t low) {
    return (low & PCI_BAR_TYPE_MASK) == PCI_BAR_TYPE_64;
}

static uint64_t bar_address(struct pci_function function, unsigned bar, uint32_t low) {
    uint64_t address = low & PCI_BAR_MEMORY_MASK;
    if (bar_is_64bit(low) && bar + 1 < PCI_BARS) {
        address |= (uint64_t)pci_read32(function, bar_offset(bar + 1)) << 32;
    }
    return address;
}

// The size a memory BAR decodes: write all ones, read back the writable
// bits, restore. Memory decoding is off meanwhile, so the BAR never
// decodes the probe value.
static uint64_t bar_size(struct pci_function function, unsigned bar, uint32_t low) {
    uint16_t command = pci_read16(function, PCI_COMMAND);
    pci_write16(function, PCI_COMMAND, command & (uint16_t)~PCI_COMMAND_MEMORY);
    bool wide = bar_is_64bit(low) && bar + 1 < PCI_BARS;
    uint32_t high = wide ? pci_read32(function, bar_offset(bar + 1)) : 0;
    pci_write32(function, bar_offset(bar), 0xffffffffu);
    uint64_t mask = pci_read32(function, bar_offset(bar)) & PCI_BAR_MEMORY_MASK;
    if (wide) {
        pci_write32(function, bar_offset(bar + 1), 0xffffffffu);
        mask |= (uint64_t)pci_read32(function, bar_offset(bar + 1)) << 32;
        pci_write32(function, bar_offset(bar + 1), high);
    } else {
        mask |= 0xffffffff00000000ull;
    }
    pci_write32(function, bar_offset(bar), low);
    pci_write16(function, PCI_COMMAND, command);
    if ((uint32_t)mask == 0 && (!wide || mask == 0)) {
        return 0;  // not implemented
    }
    return ~mask + 1;
}

struct range {
    uint64_t start, end;
};

struct reserved_ranges {
    struct range ranges[MAX_RESERVED_RANGES];
    unsigned count;
    struct pci_function skip;  // the function whose BAR is being placed
    unsigned skip_bar;
};

static bool same_function(struct pci_function left, struct pci_function right) {
    return left.bus == right.bus && left.slot == right.slot && left.function == right.function;
}

static void reserve(struct reserved_ranges *reserved, uint64_t start, uint64_t size) {
    if (size != 0 && reserved->count < MAX_RESERVED_RANGES) {
        reserved->ranges[reserved->count++] = (struct range){start, start + size};
    }
}

// Records the memory BARs with an address on every function of bus 0,
// except the one being placed.
static bool reserve_visit(struct pci_function function, uint32_t ids, void *opaque) {
    (void)ids;
    struct reserved_ranges *reserved = opaque;
    unsigned count = bar_count(function);
    for (unsigned bar = 0; bar < count; ++bar) {
        uint32_t low = pci_read32(function, bar_offset(bar));
        bool wide = bar_is_64bit(low);
        if ((low & PCI_BAR_IO) == 0 &&
            !(same_function(function, reserved->skip) && bar == reserved->skip_bar)) {
            uint64_t address = bar_address(function, bar, low);
            if (address != 0) {
                reserve(reserved, address, bar_size(function, bar, low));
            }
        }
        if ((low & PCI_BAR_IO) == 0 && wide) {
            ++bar;
        }
    }
    return true;
}

static bool overlaps(const struct reserved_ranges *reserved, uint64_t start, uint64_t end,
                     uint64_t *past) {
    for (unsigned index = 0; index < reserved->count; ++index) {
        const struct range *range = &reserved->ranges[index];
        if (start < range->end && range->start < end) {
            *past = range->end;
            return true;
        }
    }
    return false;
}

static uint64_t align_up(uint64_t value, uint64_t alignment) {
    return (value + alignment - 1) & ~(alignment - 1);
}

// Places `size` bytes (a power of two, aligned to itself) in the PCI
// window, clear of every other BAR on bus 0.
static uint64_t allocate(struct pci_function function, unsigned bar, uint64_t size) {
    static struct reserved_ranges reserved;
    reserved.count = 0;
    reserved.skip = function;
    reserved.skip_bar = bar;
    for_each_function(reserve_visit, &reserved);
    const uint64_t window_end = PLATFORM_PCI_MMIO_START + PLATFORM_PCI_MMIO_SIZE;
    uint64_t candidate = align_up(PLATFORM_PCI_MMIO_START, size);
    uint64_t past;
    while (candidate + size <= window_end && overlaps(&reserved, candidate, candidate + size, &past)) {
        candidate = align_up(past, size);
    }
    return candidate + size <= window_end ? candidate : 0;
}

uint64_t pci_memory_bar(struct pci_function function, unsigned bar, bool reassign, bool *placed) {
    *placed = false;
    if (bar >= bar_count(function)) {
        return 0;
    }
    uint32_t low = pci_read32(function, bar_offset(bar));
    if ((low & PCI_BAR_IO) != 0) {
        return 0;
    }
    uint64_t address = bar_address(function, bar, low);
    if (!reassign && address >= USABLE_BAR_START && address < USABLE_BAR_END) {
        return address;
    }
    uint64_t size = bar_size(function, bar, low);
    if (size == 0) {
        return 0;
    }
    if (size < MINIMUM_BAR_ALIGNMENT) {
        size = MINIMUM_BAR_ALIGNMENT;
    }
    address = allocate(function, bar, size);
    if (address == 0) {
        return 0;
    }
    uint16_t command = pci_read16(function, PCI_COMMAND);
    pci_write16(function, PCI_COMMAND, command & (uint16_t)~PCI_COMMAND_MEMORY);
    pci_write32(function, bar_offset(bar), (uint32_t)address | (low & ~PCI_BAR_MEMORY_MASK));
    if (bar_is_64bit(low) && bar + 1 < PCI_BARS) {
        pci_write32(function, bar_offset(bar + 1), 0);
    }
    pci_write16(function, PCI_COMMAND, command);
    *placed = true;
    return address;
}
