// The i8042's keyboard, polled (the test guest takes no interrupts): the VMM
// "presses" Ctrl-Alt-Del on it (Firecracker's SendCtrlAltDel), which the
// guest answers as a PC would, by resetting.
#pragma once

#include <stdbool.h>

// Reads the bytes waiting in the i8042 (at most its 16-byte buffer) and
// returns true once they completed Ctrl+Alt+Delete. Scan code set 1: what
// the controller delivers while it translates, as it does from reset.
bool keyboard_poll(void);

// keyboard_poll(), and on Ctrl-Alt-Del prints "skiff-testguest:
// ctrl-alt-del" and resets through the i8042. Costs one port read when no
// key is waiting: call it every few milliseconds, not in a tight loop.
void keyboard_check_ctrl_alt_del(void);
