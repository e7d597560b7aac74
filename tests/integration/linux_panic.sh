#!/usr/bin/env bash
# A Linux guest that panics with panic=-1 (no root file system, no initrd)
# reboots at once through the i8042 (reboot=k) and skiff exits 0; the
# console keeps the panic message.
# usage: linux_panic.sh SKIFF
source "$(dirname "$0")/lib.sh"
SKIFF=$1
here=$(cd "$(dirname "$0")" && pwd)
require_kvm
dir=${SKIFF_LINUX_DIR:-$("$here/../../guest-images/linux/build-kernel.sh" | tail -n 1)}
[ -r "$dir/vmlinux" ] || skip "minimal kernel not built"
run_skiff panic run --kernel "$dir/vmlinux" --memory 256 --timeout 900 \
    --cmdline "console=ttyS0 reboot=k panic=-1 root=/dev/nonexistent"
expect_status 0
expect_output panic 'Kernel panic - not syncing'
expect_error panic 'guest reset through the i8042'
echo "PASS: panic with panic=-1 ends skiff with exit 0"
