#!/bin/sh
# Boots the test guest under QEMU (TCG is enough) through both entries and
# checks its serial report. Usage: run.sh TESTGUEST_ELF LINUX64_SHIM_ELF
# Exit status: 0 pass, 1 fail, 77 skipped (no qemu-system-x86_64).
set -u
guest=$1
shim=$2
qemu=${QEMU:-qemu-system-x86_64}
command -v "$qemu" >/dev/null 2>&1 || { echo "SKIP: $qemu not found"; exit 77; }
output=$(mktemp)
trap 'rm -f "$output"' EXIT
failures=0

# boot NAME EXPECTED_STATUS MACHINE SMP APPEND [extra QEMU args...]; then
# expect/absent check the captured serial output.
boot() {
    name=$1 expected_status=$2 machine=$3 smp=$4 append=$5
    shift 5
    timeout 60 "$qemu" -M "$machine" -accel tcg -cpu max -m 128 -smp "$smp" \
        -nographic -no-reboot -append "$append" "$@" >"$output" 2>&1 </dev/null
    status=$?
    if [ "$status" -ne "$expected_status" ]; then
        echo "FAIL $name: exit status $status, expected $expected_status"
        failures=$((failures + 1))
    fi
}
expect() {
    if ! grep -qxF -- "$2" "$output"; then
        echo "FAIL $1: no line '$2' in:"
        sed 's/^/    /' "$output"
        failures=$((failures + 1))
    fi
}

for smp in 1 2; do
    boot "pvh smp=$smp" 0 microvm $smp "hello world" -kernel "$guest"
    expect "pvh smp=$smp" "skiff-testguest: booted"
    expect "pvh smp=$smp" "skiff-testguest: cpus=$smp"
    expect "pvh smp=$smp" "skiff-testguest: cmdline=hello world"
    expect "pvh smp=$smp" "skiff-testguest: shutting down"
done

boot "pvh mptable" 0 microvm,acpi=off 3 "testguest.mode=shutdown" -kernel "$guest"
expect "pvh mptable" "skiff-testguest: cpus=3"
expect "pvh mptable" "skiff-testguest: shutting down"

boot "linux64" 0 microvm 2 'via linux64 q="a b"' -kernel "$shim" -device loader,file="$guest"
expect "linux64" "skiff-testguest: booted"
expect "linux64" "skiff-testguest: cpus=2"
expect "linux64" 'skiff-testguest: cmdline=via linux64 q="a b"'
expect "linux64" "skiff-testguest: shutting down"

# The edu mode against QEMU's own edu device (what skiff's VFIO test passes
# through): BAR, DMA and MSI paths of the guest code itself.
boot "edu" 0 q35 1 "testguest.mode=edu" -kernel "$guest" -nic none -device edu
expect "edu" "skiff-testguest: edu id=0x10000ed"
expect "edu" "skiff-testguest: edu liveness=ok"
expect "edu" "skiff-testguest: edu dma=ok (64 bytes to the device and back)"
expect "edu" "skiff-testguest: edu msi=ok vector=0x41"

boot "fault" 0 microvm 1 "testguest.mode=fault" -kernel "$guest"
expect "fault" "skiff-testguest: faulting"
if ! grep -q "^skiff-testguest: exception vector=14 error=0x4 .* cs=0x23 .* cr2=0x100000000$" "$output"; then
    echo "FAIL fault: no page-fault report"; sed 's/^/    /' "$output"; failures=$((failures + 1))
fi

# halt must outlive the timeout: timeout(1) reports 124 when it had to stop it.
timeout 2 "$qemu" -M microvm -accel tcg -cpu max -m 128 -nographic -no-reboot \
    -kernel "$guest" -append "testguest.mode=halt" >"$output" 2>&1 </dev/null
status=$?
[ "$status" -eq 124 ] || { echo "FAIL halt: exit status $status, expected 124"; failures=$((failures + 1)); }
expect "halt" "skiff-testguest: halting"

[ "$failures" -eq 0 ] && echo "PASS" && exit 0
exit 1
