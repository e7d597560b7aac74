#include "tick.h"

#include "console.h"
#include "io.h"
#include "keyboard.h"
#include "x86.h"

#include <stdint.h>

// 2^25 time-stamp counter ticks: about 10-15 ms on GHz hosts (the guest does
// not know the counter's rate).
#define TICK_INTERVAL (1ull << 25)

void tick_run(void) {
    for (uint64_t count = 0;; ++count) {
        console_printf("skiff-testguest: tick %lu\n", count);
        const uint64_t start = read_tsc();
        while (read_tsc() - start < TICK_INTERVAL) {
            cpu_relax();
        }
        keyboard_check_ctrl_alt_del();
    }
}
