// Instructions at CPL0 that KVM's instruction emulator refuses, forced
// through the emulator with KVM's forced-emulation prefix (ud2; "kvm"), which
// a host enables with kvm.force_emulation_prefix=1. On hosts whose KVM
// emulates all guest kernel code the same instructions fail without it. The
// VMM must complete them (skiff: --host-quirks on). Each returns 1 when the
// instruction had its architectural effect.
#ifndef TESTGUEST_EMULATOR_CHECK_H
#define TESTGUEST_EMULATOR_CHECK_H

#include <stdint.h>

extern volatile uint64_t breakpoints_expected;
extern volatile uint64_t breakpoints_taken;

uint64_t emulator_check_int3(void);
uint64_t emulator_check_cmpxchg16b(void);

#endif
