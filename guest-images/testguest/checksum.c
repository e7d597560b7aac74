#include "checksum.h"

uint32_t checksum_add(uint32_t sum, const void *data, size_t length) {
    const uint8_t *bytes = data;
    // A 64-bit accumulator cannot overflow for any frame-sized input.
    uint64_t total = sum;
    size_t index = 0;
    for (; index + 1 < length; index += 2) {
        total += (uint32_t)bytes[index] << 8 | bytes[index + 1];
    }
    if (index < length) {
        total += (uint32_t)bytes[index] << 8;
    }
    // Folded to 16 bits, so callers may keep adding words without overflow.
    while (total >> 16) {
        total = (total & 0xffff) + (total >> 16);
    }
    return (uint32_t)total;
}

uint16_t checksum_finish(uint32_t sum) {
    while (sum >> 16) {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    return (uint16_t)~sum;
}
