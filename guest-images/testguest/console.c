#include "console.h"

#include "format.h"
#include "io.h"
#include "platform.h"

#define UART_TRANSMIT 0          // THR, write
#define UART_INTERRUPT_ENABLE 1  // IER
#define UART_LINE_CONTROL 3      // LCR
#define UART_LINE_STATUS 5       // LSR
#define UART_LINE_STATUS_DATA_READY 0x01
#define UART_RECEIVE 0           // RBR
#define UART_LINE_CONTROL_8N1 0x03
#define UART_LINE_STATUS_THR_EMPTY 0x20

void console_init(void) {
    outb(PLATFORM_COM1_PORT + UART_LINE_CONTROL, UART_LINE_CONTROL_8N1);
    outb(PLATFORM_COM1_PORT + UART_INTERRUPT_ENABLE, 0);
}

void console_put(char character) {
    while ((inb(PLATFORM_COM1_PORT + UART_LINE_STATUS) & UART_LINE_STATUS_THR_EMPTY) == 0) {
        cpu_relax();
    }
    outb(PLATFORM_COM1_PORT + UART_TRANSMIT, (uint8_t)character);
}

void console_write(const char *text, size_t length) {
    for (size_t index = 0; index < length; ++index) {
        console_put(text[index]);
    }
}

static void console_sink(char character, void *context) {
    (void)context;
    console_put(character);
}

void console_vprintf(const char *format, va_list arguments) {
    format_with(console_sink, NULL, format, arguments);
}

void console_printf(const char *format, ...) {
    va_list arguments;
    va_start(arguments, format);
    console_vprintf(format, arguments);
    va_end(arguments);
}

int console_get(void) {
    while ((inb(PLATFORM_COM1_PORT + UART_LINE_STATUS) & UART_LINE_STATUS_DATA_READY) == 0) {
        __asm__ volatile("pause");
    }
    return inb(PLATFORM_COM1_PORT + UART_RECEIVE);
}

int console_poll(void) {
    if ((inb(PLATFORM_COM1_PORT + UART_LINE_STATUS) & UART_LINE_STATUS_DATA_READY) == 0) {
        return -1;
    }
    return inb(PLATFORM_COM1_PORT + UART_RECEIVE);
}
