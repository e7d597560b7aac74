#!/usr/bin/env bash
# A user's session on a Linux guest's console, through a pseudo-terminal:
# KERNEL (Debian's stock kernel, ACPI; or the minimal kernel, MP table) with
# the busybox initramfs, CPUS vCPUs and a virtio-pci NIC. Typed at the
# shell prompt, as a user would:
#   - arithmetic in the shell (user space runs and its output comes back);
#   - /proc/interrupts: ttyS0 on IO-APIC pin 4 and the i8042 on pins 1 and
#     12 (its second port, which Debian's kernel takes only after a loopback
#     interrupt on 12), edge, with interrupts counted; /proc/tty/driver/serial:
#     ttyS0 transmitted;
#   - the virtio-pci NIC is on the guest's PCI bus and is eth0 (an ACPI
#     kernel scans only the buses its DSDT names);
#   - poweroff ends skiff with exit status 0 (ACPI S5; on the minimal
#     kernel, which has no ACPI, the init resets instead).
# usage: linux_console.sh SKIFF debian|minimal CPUS
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/linux_lib.sh"
SKIFF=$1 KERNEL=$2 CPUS=$3
require_kvm
require_net
kernel=$(linux_kernel "$KERNEL")
initramfs=$(linux_initramfs busybox)
ns=$(make_netns a)
add_tap "$ns" tap0 10.0.9.1/24

limit=${SKIFF_LINUX_BOOT_LIMIT:-900}
echo "--- skiff run --kernel $kernel ($KERNEL) --cpus $CPUS, busybox initramfs, console on a pty"
# skiff's own log goes to a file; the pty carries the guest's console.
python3 "$(dirname "$0")/console_session.py" --transcript "$TEST_TMP/console.txt" -- \
    sh -c 'log=$1; shift; exec "$@" 2>"$log"' sh "$TEST_TMP/skiff.err" \
    ip netns exec "$ns" "$SKIFF" run --kernel "$kernel" --initrd "$initramfs" --cpus "$CPUS" --memory 512 \
    --net mode=tap,ifname=tap0,transport=pci --serial stdio --timeout "$((limit + 300))" \
    --cmdline "console=ttyS0 reboot=k panic=-1 ip=10.0.9.2::10.0.9.1:255.255.255.0::eth0:off" \
    <<EOF || { sed 's/^/  err| /' "$TEST_TMP/skiff.err" | tail -n 20; fail "the console session failed"; }
expect $limit SKIFF-BUSYBOX-READY [^ ]+ cpus=$CPUS
expect 120 / #[ ]
send echo "sum=\$((6 * 7))"
expect 60 sum=42
send cat /proc/interrupts /proc/tty/driver/serial; echo "end=\$((1 + 1))"
expect 60 end=2
send for d in /sys/bus/pci/devices/*; do echo "pci \${d##*/} \$(cat \$d/vendor):\$(cat \$d/device)"; done; echo "end=\$((2 + 1))"
expect 60 end=3
send echo "eth0=\$(cat /sys/class/net/eth0/address)"
expect 60 eth0=[0-9a-f:]{17}
send poweroff
exit 120 0
EOF

transcript=$(tr -d '\r' <"$TEST_TMP/console.txt")
echo "$transcript" | grep -E 'ttyS0|i8042|^pci |eth0=|uart:' | sed 's/^/  console| /'
# "  24:  123  0  IO-APIC  4-edge  ttyS0": the interrupts counted on every CPU.
interrupts() {
    echo "$transcript" | awk -v pin="$1-edge" -v name="$2" '
        $0 ~ "IO-APIC +" pin " +" name "$" {
            for (i = 2; i <= NF && $i ~ /^[0-9]+$/; ++i) sum += $i
            found = 1
        }
        END { print found ? sum + 0 : "none" }'
}
serial_irqs=$(interrupts 4 ttyS0) keyboard_irqs=$(interrupts 1 i8042) aux_irqs=$(interrupts 12 i8042)
echo "  ttyS0: IO-APIC pin 4, $serial_irqs interrupts; i8042: pin 1, $keyboard_irqs interrupts, pin 12, $aux_irqs"
[ "$serial_irqs" != none ] || fail "no 'IO-APIC 4-edge ttyS0' line in /proc/interrupts"
[ "$serial_irqs" -gt 0 ] || fail "ttyS0 took no interrupt"
# The minimal kernel has no i8042 driver (it resets through the port alone).
if [ "$KERNEL" = debian ]; then
    [ "$keyboard_irqs" != none ] || fail "no 'IO-APIC 1-edge i8042' line in /proc/interrupts"
    [ "$aux_irqs" != none ] || fail "no 'IO-APIC 12-edge i8042' line: the guest did not take the second port"
fi
tx=$(echo "$transcript" | sed -n 's/^0: uart:16550A port:000003F8 .*tx:\([0-9]*\).*/\1/p' | head -n 1)
[ -n "$tx" ] && [ "$tx" -gt 0 ] || fail "ttyS0 reports no transmitted byte in /proc/tty/driver/serial"
echo "$transcript" | grep -q '^pci 0000:00:0[0-9a-f]\.0 0x1af4:0x1041$' ||
    fail "no virtio-net (1af4:1041) on the guest's PCI bus"
echo "$transcript" | grep -q '^eth0=' || fail "the guest has no eth0"

how=$([ "$KERNEL" = debian ] && echo "powered off through ACPI" || echo "reset through the i8042")
grep -q "guest $how" "$TEST_TMP/skiff.err" || {
    sed 's/^/  err| /' "$TEST_TMP/skiff.err" | tail -n 10
    fail "skiff did not log 'guest $how'"
}
echo "PASS: $KERNEL kernel, $CPUS vCPU(s): a shell on the console, ttyS0 ($serial_irqs IRQs, tx $tx) and the i8042 on their pins (${aux_irqs} on 12), virtio-pci found, poweroff: $how, exit 0"
