#!/usr/bin/env bash
# Boots a real Linux kernel with skiff to `Run /init as init process` and
# checks that every vCPU came up. The initramfs's /init makes no system call
# (it spins): on hosts whose KVM emulates guest kernel mode, user-mode SYSCALL
# is broken, so real-Linux checks stop at the kernel. Then SIGTERM ends skiff
# (exit 0). Prints the wall time to `Run /init`.
# usage: boot_linux.sh SKIFF KERNEL_KIND CPUS
#   KERNEL_KIND: minimal-elf | minimal-bzimage | debian
# Kernels: the minimal one from guest-images/linux/build-kernel.sh (cached;
# $SKIFF_LINUX_DIR if set), Debian's newest /boot/vmlinuz-*.
source "$(dirname "$0")/lib.sh"
SKIFF=$1 KIND=$2 CPUS=$3
source "$(dirname "$0")/linux_lib.sh"
require_kvm

kernel=$(linux_kernel "${KIND/minimal-elf/minimal}")
spin=$(linux_initramfs spin)

console="$TEST_TMP/console.txt"
limit=${SKIFF_LINUX_BOOT_LIMIT:-900}
start=$(date +%s.%N)
"$SKIFF" run --kernel "$kernel" --initrd "$spin" --cpus "$CPUS" --memory 512 \
    --cmdline "console=ttyS0 reboot=k panic=-1" --serial "file:$console" --timeout "$limit" \
    >"$TEST_TMP/skiff.out" 2>"$TEST_TMP/skiff.err" </dev/null &
pid=$!
cleanup_hooks+=("kill -KILL $pid 2>/dev/null")

# show_end: waits for skiff (status in $status), shows how the run ended.
show_end() {
    set +e; wait "$pid"; status=$?; set -e
    tail -n 40 "$console" || true
    cat "$TEST_TMP/skiff.err"
}
reached=""
while kill -0 "$pid" 2>/dev/null; do
    if grep -q 'Run /init as init process' "$console" 2>/dev/null; then
        reached=$(date +%s.%N)
        break
    fi
    sleep 0.5
done
if [ -z "$reached" ]; then
    show_end
    fail "$KIND did not reach /init (skiff exit $status)"
fi
sleep 1  # let the last lines drain
if ! kill -TERM "$pid" 2>/dev/null; then
    show_end
    fail "$KIND reached /init, then skiff ended by itself (exit $status) while /init spun"
fi
set +e; wait "$pid"; status=$?; set -e
grep -E 'Linux version|Command line|smp: Brought up|Run /init' "$console" | sed 's/^/  console| /'
grep -E 'host quirks|microVM' "$TEST_TMP/skiff.err" | sed 's/^/  skiff| /'
expect_status 0
if [ "$CPUS" -eq 1 ]; then
    want='smp: Brought up 1 node, 1 CPU$'
else
    want="smp: Brought up 1 node, $CPUS CPUs\$"
fi
if ! tr -d '\r' <"$console" | grep -E -q "$want"; then
    grep -a -E 'smpboot|smp:|CPU[0-9]|APIC' "$console" | sed 's/^/  console| /'
    fail "kernel did not bring up $CPUS vCPU(s)"
fi
awk -v s="$start" -v e="$reached" 'BEGIN { printf "PASS: %s, %d vCPU(s): Run /init after %.1f s wall\n", "'"$KIND"'", '"$CPUS"', e - s }'
