#include "boot_info.h"

#include "firmware_scan.h"
#include "string.h"
#include "x86.h"

static uint64_t read_u64(const uint8_t *base, uint64_t offset) {
    uint64_t value;
    memcpy(&value, base + offset, sizeof(value));
    return value;
}

static uint32_t read_u32(const uint8_t *base, uint64_t offset) {
    uint32_t value;
    memcpy(&value, base + offset, sizeof(value));
    return value;
}

static struct boot_info decode_pvh(uint64_t info_address) {
    struct boot_info info = {.protocol = BOOT_PROTOCOL_PVH};
    if (!physical_range_mapped(info_address, sizeof(struct hvm_start_info))) {
        info.problem = "hvm_start_info outside the identity map";
        return info;
    }
    const struct hvm_start_info *start_info = physical_pointer(info_address);
    if (start_info->magic != HVM_START_INFO_MAGIC) {
        info.problem = "bad hvm_start_info magic";
        return info;
    }
    info.cmdline = start_info->cmdline_paddr;
    info.rsdp = start_info->rsdp_paddr;
    if (start_info->version >= 1 && start_info->memmap_paddr != 0 &&
        physical_range_mapped(start_info->memmap_paddr,
                              (uint64_t)start_info->memmap_entries * HVM_MEMMAP_ENTRY_SIZE)) {
        info.memory_map = start_info->memmap_paddr;
        info.memory_map_entries = start_info->memmap_entries;
        info.memory_map_entry_size = HVM_MEMMAP_ENTRY_SIZE;
    }
    return info;
}

static struct boot_info decode_linux64(uint64_t info_address) {
    struct boot_info info = {.protocol = BOOT_PROTOCOL_LINUX64};
    if (info_address == 0 || !physical_range_mapped(info_address, BOOT_PARAMS_SIZE)) {
        info.problem = "boot_params outside the identity map";
        return info;
    }
    const uint8_t *zero_page = physical_pointer(info_address);
    info.cmdline = (uint64_t)read_u32(zero_page, BOOT_PARAMS_EXT_CMD_LINE_PTR) << 32 |
                   read_u32(zero_page, BOOT_PARAMS_CMD_LINE_PTR);
    info.rsdp = read_u64(zero_page, BOOT_PARAMS_ACPI_RSDP_ADDR);
    uint8_t entries = zero_page[BOOT_PARAMS_E820_ENTRIES];
    if (entries > 0) {
        info.memory_map = info_address + BOOT_PARAMS_E820_TABLE;
        info.memory_map_entries = entries < BOOT_PARAMS_E820_MAX ? entries : BOOT_PARAMS_E820_MAX;
        info.memory_map_entry_size = BOOT_E820_ENTRY_SIZE;
    }
    return info;
}

struct boot_info boot_info_decode(uint32_t protocol, uint64_t info_address) {
    switch (protocol) {
    case BOOT_PROTOCOL_PVH:
        return decode_pvh(info_address);
    case BOOT_PROTOCOL_LINUX64:
        return decode_linux64(info_address);
    default:
        return (struct boot_info){.protocol = protocol, .problem = "unknown boot protocol"};
    }
}

bool boot_info_is_ram(const struct boot_info *info, uint64_t start, uint64_t length) {
    if (info->memory_map == 0 || info->memory_map_entries == 0) {
        return true;
    }
    const uint8_t *table = physical_pointer(info->memory_map);
    for (uint32_t index = 0; index < info->memory_map_entries; ++index) {
        const uint8_t *entry = table + (uint64_t)index * info->memory_map_entry_size;
        uint64_t address = read_u64(entry, 0);
        uint64_t size = read_u64(entry, 8);
        if (read_u32(entry, 16) == MEMORY_MAP_TYPE_RAM && start >= address &&
            length <= size && start - address <= size - length) {
            return true;
        }
    }
    return false;
}
