#include "mptable.h"

#include "firmware_scan.h"
#include "string.h"

#include <stdbool.h>
#include <stdint.h>

// MP spec 1.4, 4.1 (floating pointer), 4.2 (header), 4.3 (base entries).
struct mp_floating_pointer {
    char signature[4];  // "_MP_"
    uint32_t configuration_table;
    uint8_t length;  // in 16-byte units
    uint8_t revision;
    uint8_t checksum;
    uint8_t features[5];  // features[0] != 0: a default configuration, no table
} __attribute__((packed));

struct mp_configuration_header {
    char signature[4];  // "PCMP"
    uint16_t base_length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[8];
    char product_id[12];
    uint32_t oem_table;
    uint16_t oem_table_size;
    uint16_t entry_count;
    uint32_t local_apic_address;
    uint16_t extended_length;
    uint8_t extended_checksum;
    uint8_t reserved;
} __attribute__((packed));

#define MP_ENTRY_PROCESSOR 0
#define MP_ENTRY_LAST_BASE_TYPE 4  // bus, I/O APIC, I/O and local interrupt
#define MP_PROCESSOR_ENTRY_LENGTH 20
#define MP_OTHER_ENTRY_LENGTH 8
#define MP_PROCESSOR_FLAGS_OFFSET 3
#define MP_PROCESSOR_ENABLED 0x1
// Every default configuration (MP spec chapter 5) has two processors.
#define MP_DEFAULT_CONFIGURATION_CPUS 2

static bool floating_pointer_valid(uint64_t address) {
    const struct mp_floating_pointer *pointer = physical_pointer(address);
    const size_t length = (size_t)pointer->length * 16;
    return length >= sizeof(*pointer) && physical_range_mapped(address, length) &&
           byte_checksum(pointer, length) == 0;
}

static const struct mp_configuration_header *valid_configuration(uint64_t address) {
    if (!physical_range_mapped(address, sizeof(struct mp_configuration_header))) {
        return NULL;
    }
    const struct mp_configuration_header *header = physical_pointer(address);
    if (memcmp(header->signature, "PCMP", 4) != 0 || header->base_length < sizeof(*header) ||
        !physical_range_mapped(address, header->base_length) ||
        byte_checksum(header, header->base_length) != 0) {
        return NULL;
    }
    return header;
}

int mptable_count_cpus(void) {
    const uint64_t pointer_address = firmware_scan("_MP_", 4, floating_pointer_valid);
    if (pointer_address == 0) {
        return -1;
    }
    const struct mp_floating_pointer *pointer = physical_pointer(pointer_address);
    if (pointer->configuration_table == 0) {
        return pointer->features[0] != 0 ? MP_DEFAULT_CONFIGURATION_CPUS : -1;
    }
    const struct mp_configuration_header *header = valid_configuration(pointer->configuration_table);
    if (header == NULL) {
        return -1;
    }
    const uint8_t *cursor = (const uint8_t *)(header + 1);
    const uint8_t *end = (const uint8_t *)header + header->base_length;
    int cpus = 0;
    // Walks by base_length and ignores entry_count, as Linux does: qboot
    // (QEMU microvm's firmware) leaves entry_count 0.
    while (cursor < end) {
        const uint8_t type = cursor[0];
        if (type > MP_ENTRY_LAST_BASE_TYPE) {
            break;  // unknown entry: its length is unknown, so stop here
        }
        const size_t length =
            type == MP_ENTRY_PROCESSOR ? MP_PROCESSOR_ENTRY_LENGTH : MP_OTHER_ENTRY_LENGTH;
        if ((size_t)(end - cursor) < length) {
            break;
        }
        if (type == MP_ENTRY_PROCESSOR &&
            (cursor[MP_PROCESSOR_FLAGS_OFFSET] & MP_PROCESSOR_ENABLED) != 0) {
            ++cpus;
        }
        cursor += length;
    }
    return cpus;
}
