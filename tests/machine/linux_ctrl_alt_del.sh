#!/usr/bin/env bash
# Boots Debian's kernel (newest /boot/vmlinuz-*-amd64) in a Machine inside
# skiff_machine_tests and sends it Ctrl-Alt-Del: Linux must reboot, ending
# the VM as an i8042 reset does. Slow where KVM emulates guest kernel mode.
# usage: linux_ctrl_alt_del.sh SKIFF_MACHINE_TESTS
source "$(dirname "$0")/../integration/lib.sh"
TESTS=$1
repo=$(cd "$(dirname "$0")/../.." && pwd)
require_kvm
kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1)
[ -r "$kernel" ] || skip "no Debian kernel in /boot"
"$repo/guest-images/linux/build-initramfs.sh" spin "$TEST_TMP/spin.cpio.gz" >/dev/null
SKIFF_TEST_KERNEL=$kernel SKIFF_TEST_INITRD="$TEST_TMP/spin.cpio.gz" "$TESTS" "[linux]"
