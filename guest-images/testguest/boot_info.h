// What the boot protocol told the guest: command line and ACPI RSDP.
#pragma once

#include <stdbool.h>
#include <stdint.h>

// struct hvm_start_info, from the layout documented in Xen's public header
// xen/include/public/arch-x86/hvm/start_info.h (fields of version 1).
struct hvm_start_info {
    uint32_t magic;  // HVM_START_INFO_MAGIC
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;  // offset 24
    uint64_t rsdp_paddr;     // offset 32; 0: search the BIOS areas
    uint64_t memmap_paddr;   // version >= 1
    uint32_t memmap_entries;
    uint32_t reserved;
} __attribute__((packed));

#define HVM_START_INFO_MAGIC 0x336ec578

// Offsets into Linux's struct boot_params (Documentation/arch/x86/zero-page.rst
// and boot.rst); only the fields the guest reads.
#define BOOT_PARAMS_ACPI_RSDP_ADDR 0x070     // u64
#define BOOT_PARAMS_EXT_CMD_LINE_PTR 0x0c8   // u32, bits 32-63 of cmd_line_ptr
#define BOOT_PARAMS_CMD_LINE_PTR 0x228       // u32
#define BOOT_PARAMS_E820_ENTRIES 0x1e8       // u8
#define BOOT_PARAMS_E820_TABLE 0x2d0         // struct boot_e820_entry[128], 20 bytes each
#define BOOT_PARAMS_E820_MAX 128
#define BOOT_E820_ENTRY_SIZE 20
#define HVM_MEMMAP_ENTRY_SIZE 24             // struct hvm_memmap_table_entry
#define MEMORY_MAP_TYPE_RAM 1                // same value in both tables
#define BOOT_PARAMS_SIZE 0x1000

struct boot_info {
    uint32_t protocol;      // BOOT_PROTOCOL_* (x86.h)
    uint64_t cmdline;       // physical address, 0 when none
    uint64_t rsdp;          // physical address, 0 when not given
    const char *problem;    // why the boot information was unusable, or NULL
    // The memory map, when the protocol gave one: entries of {u64 address,
    // u64 size, u32 type, ...}, `memory_map_entry_size` bytes apart.
    uint64_t memory_map;    // physical address, 0 when none
    uint32_t memory_map_entries;
    uint32_t memory_map_entry_size;
};

// Reads the structure the entry code was handed (`info_address`, physical)
// for `protocol`. On a bad magic or an unmapped address, sets `problem` and
// leaves cmdline and rsdp 0.
struct boot_info boot_info_decode(uint32_t protocol, uint64_t info_address);

// True when [start, start + length) lies in one RAM range of the memory
// map, and also when there is no memory map to ask.
bool boot_info_is_ram(const struct boot_info *info, uint64_t start, uint64_t length);
