#include "machine.h"

#include "io.h"
#include "platform.h"
#include "x86.h"

// A few milliseconds of pause on real CPUs; long enough for a VMM that
// handles the reset asynchronously to stop the vCPU first.
#define RESET_GRACE_SPINS 100000

void machine_ring_doorbell(void) {
    mmio_write8(PLATFORM_BOOT_DOORBELL, PLATFORM_BOOT_DOORBELL_MAGIC);
}

void machine_shutdown(void) {
    outb(PLATFORM_I8042_COMMAND_PORT, PLATFORM_I8042_RESET_COMMAND);
    for (unsigned spin = 0; spin < RESET_GRACE_SPINS; ++spin) {
        cpu_relax();
    }
    kernel_call(KERNEL_CALL_TRIPLE_FAULT);
    machine_spin_forever();  // not reached: the call does not return
}

void machine_spin_forever(void) {
    for (;;) {
        cpu_relax();
    }
}
