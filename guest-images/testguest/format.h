// A small printf-style formatter for a freestanding guest.
// Conversions: %s %c %d %i %u %x %X %p %%; length modifiers l, ll, z;
// flags '0', '-', '#'; a field width; a precision for %s ("%.*s" too).
#pragma once

#include <stdarg.h>
#include <stddef.h>

// Receives the formatted text one character at a time.
typedef void (*format_sink)(char character, void *context);

void format_with(format_sink sink, void *context, const char *format, va_list arguments);

// Like snprintf: writes at most size - 1 characters and a NUL, returns the
// length the full text would have had.
size_t format_to_buffer(char *buffer, size_t size, const char *format, ...)
    __attribute__((format(printf, 3, 4)));
