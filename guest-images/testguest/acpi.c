#include "acpi.h"

#include "firmware_scan.h"
#include "string.h"

#include <stdbool.h>

// ACPI 6.5, 5.2.5.3 (RSDP), 5.2.6 (table header), 5.2.12 (MADT).
struct acpi_rsdp {
    char signature[8];  // "RSD PTR "
    uint8_t checksum;   // over the first 20 bytes
    char oem_id[6];
    uint8_t revision;  // 0: ACPI 1.0 (20 bytes), 2: with the fields below
    uint32_t rsdt_address;
    uint32_t length;
    uint64_t xsdt_address;
    uint8_t extended_checksum;  // over `length` bytes
    uint8_t reserved[3];
} __attribute__((packed));

struct acpi_table_header {
    char signature[4];
    uint32_t length;
    uint8_t revision;
    uint8_t checksum;
    char oem_id[6];
    char oem_table_id[8];
    uint32_t oem_revision;
    uint32_t creator_id;
    uint32_t creator_revision;
} __attribute__((packed));

struct acpi_madt {
    struct acpi_table_header header;
    uint32_t local_apic_address;
    uint32_t flags;
    // Interrupt controller structures follow: type, length, body.
} __attribute__((packed));

#define RSDP_V1_LENGTH 20
#define MADT_LOCAL_APIC 0
#define MADT_LOCAL_X2APIC 9
#define MADT_LOCAL_APIC_FLAGS_OFFSET 4  // after type, length, processor id, APIC id
#define MADT_LOCAL_X2APIC_FLAGS_OFFSET 8  // after type, length, reserved, x2APIC id
#define MADT_PROCESSOR_ENABLED 0x1
// Far beyond any real table: a bound against a corrupt length field.
#define ACPI_TABLE_MAX_LENGTH 0x100000

static bool rsdp_valid(uint64_t address) {
    if (!physical_range_mapped(address, sizeof(struct acpi_rsdp))) {
        return false;
    }
    const struct acpi_rsdp *rsdp = physical_pointer(address);
    if (memcmp(rsdp->signature, "RSD PTR ", sizeof(rsdp->signature)) != 0 ||
        byte_checksum(rsdp, RSDP_V1_LENGTH) != 0) {
        return false;
    }
    if (rsdp->revision < 2) {
        return true;
    }
    return rsdp->length >= sizeof(struct acpi_rsdp) && rsdp->length <= ACPI_TABLE_MAX_LENGTH &&
           physical_range_mapped(address, rsdp->length) &&
           byte_checksum(rsdp, rsdp->length) == 0;
}

// Returns the table at `address` if its header, length and checksum hold.
static const struct acpi_table_header *valid_table(uint64_t address, const char *signature) {
    if (address == 0 || !physical_range_mapped(address, sizeof(struct acpi_table_header))) {
        return NULL;
    }
    const struct acpi_table_header *table = physical_pointer(address);
    if ((signature != NULL && memcmp(table->signature, signature, 4) != 0) ||
        table->length < sizeof(*table) || table->length > ACPI_TABLE_MAX_LENGTH ||
        !physical_range_mapped(address, table->length) ||
        byte_checksum(table, table->length) != 0) {
        return NULL;
    }
    return table;
}

static const struct acpi_table_header *find_madt(const struct acpi_rsdp *rsdp) {
    const bool extended = rsdp->revision >= 2 && rsdp->xsdt_address != 0;
    const struct acpi_table_header *root =
        extended ? valid_table(rsdp->xsdt_address, "XSDT") : valid_table(rsdp->rsdt_address, "RSDT");
    if (root == NULL) {
        return NULL;
    }
    const size_t entry_size = extended ? 8 : 4;
    const uint8_t *entries = (const uint8_t *)(root + 1);
    const size_t count = (root->length - sizeof(*root)) / entry_size;
    for (size_t index = 0; index < count; ++index) {
        uint64_t address = 0;
        memcpy(&address, entries + index * entry_size, entry_size);
        const struct acpi_table_header *table = valid_table(address, "APIC");
        if (table != NULL && table->length >= sizeof(struct acpi_madt)) {
            return table;
        }
    }
    return NULL;
}

static bool processor_enabled(const uint8_t *entry, uint8_t length, size_t flags_offset) {
    if (length < flags_offset + 4) {
        return false;
    }
    uint32_t flags;
    memcpy(&flags, entry + flags_offset, sizeof(flags));
    return (flags & MADT_PROCESSOR_ENABLED) != 0;
}

int acpi_count_cpus(uint64_t rsdp_hint) {
    uint64_t rsdp_address = rsdp_hint;
    if (rsdp_address == 0 || !rsdp_valid(rsdp_address)) {
        rsdp_address = firmware_scan("RSD PTR ", 8, rsdp_valid);
    }
    if (rsdp_address == 0) {
        return -1;
    }
    const struct acpi_table_header *madt = find_madt(physical_pointer(rsdp_address));
    if (madt == NULL) {
        return -1;
    }
    const uint8_t *cursor = (const uint8_t *)madt + sizeof(struct acpi_madt);
    const uint8_t *end = (const uint8_t *)madt + madt->length;
    int cpus = 0;
    while (end - cursor >= 2) {
        const uint8_t type = cursor[0];
        const uint8_t length = cursor[1];
        if (length < 2 || length > end - cursor) {
            break;  // malformed: count what was well-formed
        }
        if ((type == MADT_LOCAL_APIC &&
             processor_enabled(cursor, length, MADT_LOCAL_APIC_FLAGS_OFFSET)) ||
            (type == MADT_LOCAL_X2APIC &&
             processor_enabled(cursor, length, MADT_LOCAL_X2APIC_FLAGS_OFFSET))) {
            ++cpus;
        }
        cursor += length;
    }
    return cpus;
}
