# QEMU's "edu" PCI device (1234:11e8) in the L1 VM (tests/l1vm/run.sh
# --vfio-edu), for the VFIO tests (sourced after lib.sh).

# edu_device: prints the edu device's PCI address once vfio-pci can take it;
# skips the test where there is none, or no IOMMU group, or no vfio-pci.
edu_device() {
    local path device=
    for path in /sys/bus/pci/devices/*; do
        if [ "$(cat "$path/vendor")" = 0x1234 ] && [ "$(cat "$path/device")" = 0x11e8 ]; then
            device=$(basename "$path")
            break
        fi
    done
    [ -n "$device" ] || skip "no QEMU edu device (1234:11e8): run inside tests/l1vm/run.sh --vfio-edu"
    [ -e "/sys/bus/pci/devices/$device/iommu_group" ] || skip "edu device $device has no IOMMU group"
    [ -e /sys/bus/pci/drivers/vfio-pci ] || modprobe vfio-pci 2>/dev/null || skip "no vfio-pci driver"
    echo "$device"
}
