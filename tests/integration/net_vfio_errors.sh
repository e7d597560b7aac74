#!/usr/bin/env bash
# --net mode=vfio on a host without the function, the PF or VFIO: one clear
# error line, exit status 1 (start-up error), before /dev/kvm is opened, and
# nothing changed in sysfs. Needs no KVM, no IOMMU and no root.
# usage: net_vfio_errors.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2

check_rejected() {  # NAME REGEX ARGS...
    local name=$1 regex=$2; shift 2
    run_skiff "$name" "$@"
    expect_status 1
    expect_error "$name" "$regex"
    # One error line, and not from KVM: the check came first.
    [ "$(grep -c -E 'error' "$TEST_TMP/$name.err")" -eq 1 ] || fail "$name: expected exactly one error line"
    ! grep -q -i 'kvm' "$TEST_TMP/$name.err" || fail "$name: reached KVM"
}

# An address no machine has (function 7 of the LPC/SMBus slot is unused).
if [ ! -e /sys/bus/pci/devices/0000:00:1f.7 ]; then
    check_rejected no_device 'PCI device 0000:00:1f.7 not found' \
        run --kernel "$GUEST" --net mode=vfio,device=0000:00:1f.7
fi
# A real function without an IOMMU group (this host has no IOMMU): refused
# before anything is rebound.
for device in /sys/bus/pci/devices/*; do
    [ -e "$device" ] && [ ! -e "$device/iommu_group" ] || continue
    address=$(basename "$device")
    driver_before=$(readlink "$device/driver" || true)
    check_rejected no_iommu "no IOMMU group for $address: enable VT-d/IOMMU" \
        run --kernel "$GUEST" --net "mode=vfio,device=$address"
    [ "$(readlink "$device/driver" || true)" = "$driver_before" ] || fail "$address was rebound"
    break
done
check_rejected no_pf "pf 'nosuch0' not found" run --kernel "$GUEST" --net mode=vfio,pf=nosuch0,vf=0
# lo exists everywhere and is no SR-IOV PF.
check_rejected not_sriov "pf 'lo' is not an SR-IOV physical function" run --kernel "$GUEST" --net mode=vfio,pf=lo,vf=0
echo "PASS: vfio errors rejected cleanly before KVM"
