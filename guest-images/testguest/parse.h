// Reading numbers and IPv4 addresses out of command-line values, which are
// slices of the line (pointer and end, not NUL-terminated).
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

// An unsigned number at *cursor: decimal, or hexadecimal after "0x". On
// success advances *cursor past the digits. Fails without digits or when
// the value does not fit 64 bits.
bool parse_unsigned(const char **cursor, const char *end, uint64_t *value);

// A dotted-quad IPv4 address at *cursor ("10.0.0.2"), in host byte order.
// On success advances *cursor past it.
bool parse_ipv4(const char **cursor, const char *end, uint32_t *address);

// The whole of [text, text + length) as an IPv4 address.
bool parse_ipv4_exactly(const char *text, size_t length, uint32_t *address);

// The whole of [text, text + length) as an unsigned number.
bool parse_unsigned_exactly(const char *text, size_t length, uint64_t *value);

// The `field`-th (from 0) ':'-separated field of [text, text + length), as
// a slice; false when there are fewer fields.
bool colon_field(const char *text, size_t length, unsigned field, const char **start,
                 size_t *field_length);
