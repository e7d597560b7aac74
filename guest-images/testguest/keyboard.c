#include "keyboard.h"

#include "console.h"
#include "io.h"
#include "machine.h"
#include "platform.h"

#define I8042_STATUS_OUTPUT_FULL 0x01
#define I8042_BUFFER_SIZE 16
// Scan code set 1: a release is the press code with bit 7 set; E0 prefixes
// the keys added with the 101-key layout (right Ctrl and Alt, Delete).
#define SCAN_EXTENDED 0xe0
#define SCAN_RELEASED 0x80
#define SCAN_CTRL 0x1d
#define SCAN_ALT 0x38
#define SCAN_DELETE 0x53  // E0 53; without E0 the keypad's Del, which counts too

static bool ctrl_down;
static bool alt_down;

bool keyboard_poll(void) {
    bool pressed = false;
    for (unsigned count = 0; count < I8042_BUFFER_SIZE; ++count) {
        if ((inb(PLATFORM_I8042_COMMAND_PORT) & I8042_STATUS_OUTPUT_FULL) == 0) {
            break;
        }
        const uint8_t byte = inb(PLATFORM_I8042_DATA_PORT);
        if (byte == SCAN_EXTENDED) {
            continue;
        }
        const bool down = (byte & SCAN_RELEASED) == 0;
        switch (byte & ~SCAN_RELEASED) {
        case SCAN_CTRL:
            ctrl_down = down;
            break;
        case SCAN_ALT:
            alt_down = down;
            break;
        case SCAN_DELETE:
            pressed = pressed || (down && ctrl_down && alt_down);
            break;
        default:
            break;
        }
    }
    return pressed;
}

void keyboard_check_ctrl_alt_del(void) {
    if (keyboard_poll()) {
        console_printf("skiff-testguest: ctrl-alt-del\n");
        machine_shutdown();
    }
}
