#include "parse.h"

static int digit_value(char character, unsigned base) {
    int value = -1;
    if (character >= '0' && character <= '9') {
        value = character - '0';
    } else if (character >= 'a' && character <= 'f') {
        value = character - 'a' + 10;
    } else if (character >= 'A' && character <= 'F') {
        value = character - 'A' + 10;
    }
    return value >= 0 && (unsigned)value < base ? value : -1;
}

bool parse_unsigned(const char **cursor, const char *end, uint64_t *value) {
    const char *position = *cursor;
    unsigned base = 10;
    if (end - position >= 3 && position[0] == '0' && (position[1] == 'x' || position[1] == 'X') &&
        digit_value(position[2], 16) >= 0) {
        base = 16;
        position += 2;
    }
    uint64_t result = 0;
    const char *digits = position;
    for (int digit; position < end && (digit = digit_value(*position, base)) >= 0; ++position) {
        if (result > (UINT64_MAX - (uint64_t)digit) / base) {
            return false;
        }
        result = result * base + (uint64_t)digit;
    }
    if (position == digits) {
        return false;
    }
    *cursor = position;
    *value = result;
    return true;
}

bool parse_ipv4(const char **cursor, const char *end, uint32_t *address) {
    const char *position = *cursor;
    uint32_t result = 0;
    for (unsigned part = 0; part < 4; ++part) {
        if (part > 0) {
            if (position == end || *position != '.') {
                return false;
            }
            ++position;
        }
        // Decimal only: "0x0a.0.0.1" is not an address.
        if (position == end || digit_value(*position, 10) < 0) {
            return false;
        }
        uint64_t value;
        const char *digits_end = position;
        while (digits_end < end && digit_value(*digits_end, 10) >= 0) {
            ++digits_end;
        }
        if (!parse_unsigned(&position, digits_end, &value) || value > 255) {
            return false;
        }
        result = result << 8 | (uint32_t)value;
    }
    *cursor = position;
    *address = result;
    return true;
}

bool parse_ipv4_exactly(const char *text, size_t length, uint32_t *address) {
    const char *cursor = text;
    return parse_ipv4(&cursor, text + length, address) && cursor == text + length;
}

bool parse_unsigned_exactly(const char *text, size_t length, uint64_t *value) {
    const char *cursor = text;
    return parse_unsigned(&cursor, text + length, value) && cursor == text + length;
}

bool colon_field(const char *text, size_t length, unsigned field, const char **start,
                 size_t *field_length) {
    const char *end = text + length;
    const char *cursor = text;
    for (unsigned index = 0; index < field; ++index) {
        while (cursor < end && *cursor != ':') {
            ++cursor;
        }
        if (cursor == end) {
            return false;
        }
        ++cursor;
    }
    const char *field_end = cursor;
    while (field_end < end && *field_end != ':') {
        ++field_end;
    }
    *start = cursor;
    *field_length = (size_t)(field_end - cursor);
    return true;
}
