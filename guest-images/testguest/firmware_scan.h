// Finding firmware tables the BIOS way: a signature on a 16-byte boundary
// in the first KiB of the EBDA or in the BIOS ROM area.
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// Physical addresses the guest's identity map covers (0-4 GiB).
#define IDENTITY_MAP_END 0x100000000ull

// The byte sum of a table; firmware tables are valid when it is 0.
uint8_t byte_checksum(const void *data, size_t length);

// True when [address, address + length) lies inside the identity map.
bool physical_range_mapped(uint64_t address, uint64_t length);

static inline const void *physical_pointer(uint64_t address) {
    return (const void *)(uintptr_t)address;
}

// Looks for `signature` in the EBDA's first KiB (segment from the BIOS data
// area; the last KiB of conventional memory when that is 0), then in
// 0xE0000-0xFFFFF. A candidate counts only if `accept` says it is valid.
// Returns its physical address, or 0.
uint64_t firmware_scan(const char *signature, size_t signature_length,
                       bool (*accept)(uint64_t address));
