#!/usr/bin/env bash
# A distribution kernel finds a passed-through function: QEMU's edu device
# (tests/l1vm/run.sh --vfio-edu) given with --net mode=vfio to Debian's
# stock kernel (ACPI: it scans only the PCI buses its DSDT names) with the
# busybox initramfs. At the guest's shell: the function is on bus 0 with
# its IDs (1234:11e8) and its memory BAR assigned; poweroff ends skiff with
# exit 0 and the device is back on its host driver.
# usage: vfio_edu_linux.sh SKIFF
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vfio_lib.sh"
source "$(dirname "$0")/linux_lib.sh"
SKIFF=$1
require_kvm
device=$(edu_device)
kernel=$(linux_kernel debian)
initramfs=$(linux_initramfs busybox)
driver_before=$(basename "$(readlink "/sys/bus/pci/devices/$device/driver" 2>/dev/null)" 2>/dev/null || true)

limit=${SKIFF_LINUX_BOOT_LIMIT:-900}
echo "--- skiff run --kernel $kernel, busybox, --net mode=vfio,device=$device"
python3 "$(dirname "$0")/console_session.py" --transcript "$TEST_TMP/console.txt" -- \
    sh -c 'log=$1; shift; exec "$@" 2>"$log"' sh "$TEST_TMP/skiff.err" \
    "$SKIFF" run --kernel "$kernel" --initrd "$initramfs" --memory 512 \
    --net "mode=vfio,device=$device" --serial stdio --timeout "$((limit + 300))" \
    --cmdline "console=ttyS0 reboot=k panic=-1" <<EOS || {
expect $limit SKIFF-BUSYBOX-READY
expect 120 / #[ ]
send for d in /sys/bus/pci/devices/*; do echo "pci \${d##*/} \$(cat \$d/vendor):\$(cat \$d/device) bar0 \$(head -n 1 \$d/resource)"; done; echo "end=\$((2 + 1))"
expect 60 end=3
send poweroff
exit 120 0
EOS
    sed 's/^/  err| /' "$TEST_TMP/skiff.err" | tail -n 20
    fail "the console session failed"
}
transcript=$(tr -d '\r' <"$TEST_TMP/console.txt")
echo "$transcript" | grep -E '^pci ' | sed 's/^/  console| /'
line=$(echo "$transcript" | grep -E '^pci 0000:00:[0-9a-f]{2}\.0 0x1234:0x11e8 ' | head -n 1)
[ -n "$line" ] || fail "Debian's kernel did not find the edu function (1234:11e8) on bus 0"
bar_start=$(echo "$line" | awk '{print $5}')
[ -n "$bar_start" ] && [ $((bar_start)) -ne 0 ] || fail "the edu function's BAR 0 is not assigned: $line"
grep -q "guest powered off through ACPI" "$TEST_TMP/skiff.err" || fail "skiff did not log the ACPI power-off"
driver_after=$(basename "$(readlink "/sys/bus/pci/devices/$device/driver" 2>/dev/null)" 2>/dev/null || true)
[ "$driver_after" = "$driver_before" ] ||
    fail "driver of $device is '$driver_after' after skiff, was '$driver_before'"
echo "PASS: Debian's kernel found the passed-through edu function ($line), poweroff, exit 0"
