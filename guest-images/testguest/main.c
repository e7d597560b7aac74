// The test guest's main program, at CPL3. Reports on the serial console,
// each line starting with "skiff-testguest: ", which tests match on.
// testguest.mode= on the command line selects what happens after the
// report: shutdown (the default; i8042 reset), halt (spin at CPL3 until
// the VMM is stopped from outside), fault (a page fault, to test crash
// reporting), emulator (instructions KVM's emulator refuses, at CPL0),
// echo (reads one console line and prints it back), edu (drives a
// passed-through QEMU edu device, edu.h), tick (prints a counter every few
// milliseconds forever, tick.h). With a virtio-net
// device and no testguest.mode=, or with mode serve, sink or flood, the
// guest serves the network forever instead (network.h). Serving and
// ticking, the guest resets on Ctrl-Alt-Del from the VMM (keyboard.h).
#include "boot_info.h"
#include "cmdline.h"
#include "console.h"
#include "cpu_count.h"
#include "edu.h"
#include "firmware_scan.h"
#include "machine.h"
#include "network.h"
#include "tick.h"
#include "x86.h"

#include <stdint.h>

__attribute__((noreturn)) void testguest_main(uint32_t protocol, uint64_t info_address);

static struct cmdline cmdline;

void testguest_main(uint32_t protocol, uint64_t info_address) {
    console_init();
    console_printf("skiff-testguest: booted\n");
    machine_ring_doorbell();

    const struct boot_info info = boot_info_decode(protocol, info_address);
    if (info.problem != NULL) {
        console_printf("skiff-testguest: boot information unusable: %s\n", info.problem);
    }
    console_printf("skiff-testguest: cpus=%u\n", cpu_count(info.rsdp));

    cmdline_load(&cmdline, info.cmdline);
    console_printf("skiff-testguest: cmdline=%s\n", cmdline.text);
    if (cmdline.truncated) {
        console_printf("skiff-testguest: command line truncated\n");
    }

    const struct cmdline_option *mode = cmdline_lookup(&cmdline, "testguest.mode");
    const bool network_mode = mode == NULL || cmdline_value_is(mode, "serve") ||
                              cmdline_value_is(mode, "sink") || cmdline_value_is(mode, "flood") ||
                              cmdline_value_is(mode, "hostile");
    if (network_mode) {
        network_run(&cmdline, &info, mode);  // returns only without a NIC
    }
    if (cmdline_value_is(mode, "tick")) {
        tick_run();
    }
    if (cmdline_value_is(mode, "halt")) {
        console_printf("skiff-testguest: halting\n");
        machine_spin_forever();
    }
    if (cmdline_value_is(mode, "fault")) {
        // Exercises the exception report and the VMM's handling of a guest
        // that dies: reads the first address past the identity map.
        console_printf("skiff-testguest: faulting\n");
        (void)*(volatile const uint8_t *)(uintptr_t)IDENTITY_MAP_END;
    }
    if (cmdline_value_is(mode, "echo")) {
        // One line from the console's input, printed back: the VMM's
        // host-to-guest console path.
        char line[128];
        size_t length = 0;
        console_printf("skiff-testguest: type a line\n");
        for (;;) {
            int byte = console_get();
            if (byte == '\n' || byte == '\r' || length == sizeof(line) - 1) {
                break;
            }
            line[length++] = (char)byte;
        }
        console_printf("skiff-testguest: echo=%.*s\n", (int)length, line);
    } else if (cmdline_value_is(mode, "emulator")) {
        // Needs kvm.force_emulation_prefix=1 on the host (emulator_check.h).
        console_printf("skiff-testguest: emulator int3=%s\n",
                       kernel_call(KERNEL_CALL_EMULATOR_INT3) == 1 ? "ok" : "wrong");
        console_printf("skiff-testguest: emulator cmpxchg16b=%s\n",
                       kernel_call(KERNEL_CALL_EMULATOR_CMPXCHG16B) == 1 ? "ok" : "wrong");
    } else if (cmdline_value_is(mode, "edu")) {
        edu_run();  // edu.h: a passed-through QEMU edu device
    } else if (mode != NULL && !cmdline_value_is(mode, "shutdown") && !network_mode) {
        console_printf("skiff-testguest: unknown testguest.mode=%.*s\n", (int)mode->value_length,
                       mode->value != NULL ? mode->value : "");
    }
    console_printf("skiff-testguest: shutting down\n");
    machine_shutdown();
}
