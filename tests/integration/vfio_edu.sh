#!/usr/bin/env bash
# VFIO passthrough for real: QEMU's "edu" PCI device (1234:11e8), behind an
# emulated VT-d IOMMU in the L1 VM (tests/l1vm/run.sh --vfio-edu), passed
# to the test guest with --net mode=vfio,device=ADDRESS. The guest checks
# configuration space, BAR access, DMA through the IOMMU and MSI delivery
# (guest-images/testguest/edu.h); after skiff exits, the device is back on
# the driver it had (none: edu has no host driver) with driver_override
# cleared. Skipped where no edu device with an IOMMU group exists.
# usage: vfio_edu.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/vfio_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
device=$(edu_device)
driver_before=$(basename "$(readlink "/sys/bus/pci/devices/$device/driver" 2>/dev/null)" 2>/dev/null || true)

run_skiff edu --log-level debug run --kernel "$GUEST" --memory 64 --timeout 120 \
    --net "mode=vfio,device=$device" --cmdline "testguest.mode=edu"
expect_status 0
expect_output edu '^skiff-testguest: edu found 00:[0-9a-f]{2}\.0 bar0=0x[0-9a-f]+$'
expect_output edu '^skiff-testguest: edu id=0x10000ed$'
expect_output edu '^skiff-testguest: edu liveness=ok$'
expect_output edu '^skiff-testguest: edu dma=ok'
expect_output edu '^skiff-testguest: edu msi=ok'
if grep -q 'FAILED' "$TEST_TMP/edu.out"; then fail "a guest step failed"; fi

driver_after=$(basename "$(readlink "/sys/bus/pci/devices/$device/driver" 2>/dev/null)" 2>/dev/null || true)
[ "$driver_after" = "$driver_before" ] ||
    fail "driver of $device is '$driver_after' after skiff, was '$driver_before'"
override=$(cat "/sys/bus/pci/devices/$device/driver_override")
[ "$override" = "(null)" ] || fail "driver_override of $device left as '$override'"
echo "PASS: edu device $device passed through with VFIO: config space, BAR, DMA and MSI"
