// The serial console on COM1. Usable at CPL0 and, with IOPL 3, at CPL3.
// Lines end in "\n" alone: the reader is a VMM or a test, not a terminal.
#pragma once

#include <stdarg.h>
#include <stddef.h>

// Sets 8N1 and masks the UART's interrupts (the console polls).
void console_init(void);

void console_put(char character);
void console_write(const char *text, size_t length);
void console_printf(const char *format, ...) __attribute__((format(printf, 1, 2)));
void console_vprintf(const char *format, va_list arguments);
// Waits for the next byte from the host (polling LSR.DR).
int console_get(void);
// The next byte from the host if one has arrived, else -1 (does not wait).
int console_poll(void);
