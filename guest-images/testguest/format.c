#include "format.h"

#include <stdbool.h>
#include <stdint.h>

struct conversion {
    bool left_align;
    bool zero_pad;
    bool alternate;
    unsigned width;
    int precision;  // -1: none
};

static void emit_padding(format_sink sink, void *context, char pad, unsigned count) {
    while (count-- > 0) {
        sink(pad, context);
    }
}

static void emit_text(format_sink sink, void *context, const struct conversion *conversion,
                      const char *text) {
    if (text == NULL) {
        text = "(null)";
    }
    size_t length = 0;
    while (text[length] != '\0' &&
           (conversion->precision < 0 || length < (size_t)conversion->precision)) {
        ++length;
    }
    const unsigned padding = conversion->width > length ? conversion->width - (unsigned)length : 0;
    if (!conversion->left_align) {
        emit_padding(sink, context, ' ', padding);
    }
    for (size_t index = 0; index < length; ++index) {
        sink(text[index], context);
    }
    if (conversion->left_align) {
        emit_padding(sink, context, ' ', padding);
    }
}

static void emit_number(format_sink sink, void *context, const struct conversion *conversion,
                        uint64_t magnitude, bool negative, unsigned base, bool upper_case) {
    const char *digits = upper_case ? "0123456789ABCDEF" : "0123456789abcdef";
    const bool hex_prefix = conversion->alternate && base == 16 && magnitude != 0;
    const char *prefix = negative ? "-" : (hex_prefix ? "0x" : "");
    char reversed[24];
    unsigned length = 0;
    do {
        reversed[length++] = digits[magnitude % base];
        magnitude /= base;
    } while (magnitude != 0);

    unsigned prefix_length = 0;
    while (prefix[prefix_length] != '\0') {
        ++prefix_length;
    }
    const unsigned total = length + prefix_length;
    const unsigned padding = conversion->width > total ? conversion->width - total : 0;

    if (!conversion->left_align && !conversion->zero_pad) {
        emit_padding(sink, context, ' ', padding);
    }
    for (unsigned index = 0; index < prefix_length; ++index) {
        sink(prefix[index], context);
    }
    if (!conversion->left_align && conversion->zero_pad) {
        emit_padding(sink, context, '0', padding);
    }
    while (length > 0) {
        sink(reversed[--length], context);
    }
    if (conversion->left_align) {
        emit_padding(sink, context, ' ', padding);
    }
}

void format_with(format_sink sink, void *context, const char *format, va_list arguments) {
    for (const char *cursor = format; *cursor != '\0'; ++cursor) {
        if (*cursor != '%') {
            sink(*cursor, context);
            continue;
        }
        ++cursor;
        struct conversion conversion = {.precision = -1};
        for (;; ++cursor) {
            if (*cursor == '-') {
                conversion.left_align = true;
            } else if (*cursor == '0') {
                conversion.zero_pad = true;
            } else if (*cursor == '#') {
                conversion.alternate = true;
            } else {
                break;
            }
        }
        while (*cursor >= '0' && *cursor <= '9') {
            conversion.width = conversion.width * 10 + (unsigned)(*cursor++ - '0');
        }
        if (*cursor == '.') {
            ++cursor;
            conversion.precision = 0;
            if (*cursor == '*') {
                conversion.precision = va_arg(arguments, int);
                ++cursor;
            } else {
                while (*cursor >= '0' && *cursor <= '9') {
                    conversion.precision = conversion.precision * 10 + (*cursor++ - '0');
                }
            }
        }
        unsigned long_count = 0;
        while (*cursor == 'l' || *cursor == 'z') {
            long_count += *cursor == 'z' ? 2 : 1;
            ++cursor;
        }
        const bool wide = long_count > 0;  // long, long long and size_t are 64-bit here

        switch (*cursor) {
        case 'd':
        case 'i': {
            const int64_t value = wide ? va_arg(arguments, int64_t) : va_arg(arguments, int);
            const uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
            emit_number(sink, context, &conversion, magnitude, value < 0, 10, false);
            break;
        }
        case 'u':
        case 'x':
        case 'X': {
            const uint64_t value =
                wide ? va_arg(arguments, uint64_t) : va_arg(arguments, unsigned int);
            emit_number(sink, context, &conversion, value, false, *cursor == 'u' ? 10 : 16,
                        *cursor == 'X');
            break;
        }
        case 'p':
            conversion.alternate = true;
            emit_number(sink, context, &conversion, (uint64_t)(uintptr_t)va_arg(arguments, void *),
                        false, 16, false);
            break;
        case 'c':
            sink((char)va_arg(arguments, int), context);
            break;
        case 's':
            emit_text(sink, context, &conversion, va_arg(arguments, const char *));
            break;
        case '%':
            sink('%', context);
            break;
        case '\0':
            return;  // a lone '%' at the end
        default:
            // Unknown conversion: show it rather than guess at its argument.
            sink('%', context);
            sink(*cursor, context);
            break;
        }
    }
}

struct buffer_sink {
    char *buffer;
    size_t size;
    size_t length;
};

static void buffer_sink_put(char character, void *context) {
    struct buffer_sink *sink = context;
    if (sink->length + 1 < sink->size) {
        sink->buffer[sink->length] = character;
    }
    ++sink->length;
}

size_t format_to_buffer(char *buffer, size_t size, const char *format, ...) {
    struct buffer_sink sink = {.buffer = buffer, .size = size, .length = 0};
    va_list arguments;
    va_start(arguments, format);
    format_with(buffer_sink_put, &sink, format, arguments);
    va_end(arguments);
    if (size > 0) {
        buffer[sink.length < size ? sink.length : size - 1] = '\0';
    }
    return sink.length;
}
