// The Internet checksum (RFC 1071): the ones'-complement sum of 16-bit
// big-endian words, complemented. Sums can be built in pieces (pseudo
// header, then the data) before the final fold.
#pragma once

#include <stddef.h>
#include <stdint.h>

// Adds `length` bytes to a running sum; an odd last byte is the high half
// of a word padded with zero. Pieces after the first must start on an even
// byte of the checksummed whole. The result is folded to 16 bits.
uint32_t checksum_add(uint32_t sum, const void *data, size_t length);

// Adds one 16-bit value (to a folded sum: many may follow before the fold).
static inline uint32_t checksum_add16(uint32_t sum, uint16_t value) {
    return sum + value;
}

// Folds the carries in and complements: the value for the header field.
// Data that carries its own correct checksum folds to 0.
uint16_t checksum_finish(uint32_t sum);
