#include "firmware_scan.h"

#include "platform.h"
#include "string.h"

#define SCAN_STEP 16
// Where Linux and the MP spec also look when the BDA names no EBDA.
#define LAST_CONVENTIONAL_KIB (PLATFORM_LOW_MEMORY_END - PLATFORM_EBDA_SEARCH_SIZE)

uint8_t byte_checksum(const void *data, size_t length) {
    const uint8_t *bytes = data;
    uint8_t sum = 0;
    for (size_t index = 0; index < length; ++index) {
        sum = (uint8_t)(sum + bytes[index]);
    }
    return sum;
}

bool physical_range_mapped(uint64_t address, uint64_t length) {
    return address < IDENTITY_MAP_END && length <= IDENTITY_MAP_END - address;
}

static uint64_t scan_range(uint64_t start, uint64_t length, const char *signature,
                           size_t signature_length, bool (*accept)(uint64_t address)) {
    for (uint64_t address = start; address + signature_length <= start + length;
         address += SCAN_STEP) {
        if (memcmp(physical_pointer(address), signature, signature_length) == 0 &&
            accept(address)) {
            return address;
        }
    }
    return 0;
}

static uint64_t ebda_start(void) {
    // The empty asm hides the constant from the compiler: an address this
    // low looks to its bounds warnings like an offset from a null pointer.
    uintptr_t segment_address = PLATFORM_EBDA_SEGMENT_POINTER;
    __asm__("" : "+r"(segment_address));
    const uint64_t start = (uint64_t)*(const uint16_t *)segment_address << 4;
    if (start == 0 || start + PLATFORM_EBDA_SEARCH_SIZE > PLATFORM_LOW_MEMORY_END) {
        return LAST_CONVENTIONAL_KIB;
    }
    return start;
}

uint64_t firmware_scan(const char *signature, size_t signature_length,
                       bool (*accept)(uint64_t address)) {
    const uint64_t found = scan_range(ebda_start(), PLATFORM_EBDA_SEARCH_SIZE, signature,
                                      signature_length, accept);
    if (found != 0) {
        return found;
    }
    return scan_range(PLATFORM_BIOS_ROM, PLATFORM_BIOS_ROM_SIZE, signature, signature_length,
                      accept);
}
