// The platform's doorbell and power control, as seen from user mode.
#pragma once

// Writes the boot doorbell's magic byte (the VMM's "guest is running").
void machine_ring_doorbell(void);

// Asks for a reset through the i8042, which skiff turns into a clean exit.
// Platforms without an i8042 (QEMU microvm) ignore it; after a short wait
// the guest then triple-faults, which a QEMU run with -no-reboot turns
// into an exit as well.
__attribute__((noreturn)) void machine_shutdown(void);

// Stays alive without ever exiting, for tests that stop the VMM by signal.
__attribute__((noreturn)) void machine_spin_forever(void);
