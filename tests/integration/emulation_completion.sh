#!/usr/bin/env bash
# skiff completing instructions that KVM's emulator refuses. The test guest
# (testguest.mode=emulator) forces int3 and lock cmpxchg16b at CPL0 through
# KVM's emulator with the forced-emulation prefix (the host's KVM needs
# force_emulation_prefix=1; tests/l1vm/run.sh loads it so). KVM then exits
# with an emulation failure, as the kvm_pvm host does for all kernel code.
#   --host-quirks on:  skiff completes both, the guest checks their effect;
#   --host-quirks off: the VM ends with exit 4, RIP and the bytes (cc).
# usage: emulation_completion.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
prefix=$(cat /sys/module/kvm/parameters/force_emulation_prefix 2>/dev/null || echo 0)
case "$prefix" in Y|1) ;; *) skip "kvm.force_emulation_prefix is off on this host" ;; esac

run_skiff on run --kernel "$GUEST" --host-quirks on --cmdline "testguest.mode=emulator" --timeout 60
expect_status 0
expect_output on '^skiff-testguest: emulator int3=ok$'
expect_output on '^skiff-testguest: emulator cmpxchg16b=ok$'
expect_error on 'completed `int3` refused by KVM'
expect_error on 'completed `cmpxchg16b` refused by KVM'

run_skiff off run --kernel "$GUEST" --host-quirks off --cmdline "testguest.mode=emulator" --timeout 60
expect_status 4
expect_error off 'emulation failure at rip 0x[0-9a-f]+, instruction bytes cc'
echo "PASS: refused instructions completed with --host-quirks on, reported with off"
