# Kernels and initramfs images for the tests that boot real Linux (sourced
# after lib.sh). Kernels: the project's own from
# guest-images/linux/build-kernel.sh (cached; $SKIFF_LINUX_DIR and
# $SKIFF_LINUX_ACPI_DIR point at prebuilt ones), Debian's newest
# /boot/vmlinuz-*-amd64.
linux_repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)

# linux_kernel_dir VARIANT: the directory with the variant's vmlinux and bzImage.
linux_kernel_dir() {
    local variant=$1 preset=
    case "$variant" in
        microvm) preset=${SKIFF_LINUX_DIR:-} ;;
        acpi) preset=${SKIFF_LINUX_ACPI_DIR:-} ;;
    esac
    if [ -n "$preset" ] && [ -r "$preset/vmlinux" ]; then
        echo "$preset"
    else
        "$linux_repo/guest-images/linux/build-kernel.sh" "$variant" | tail -n 1
    fi
}

# linux_kernel KIND: the kernel image's path; skips the test when it is missing.
#   minimal (ELF vmlinux), minimal-bzimage, acpi (ELF), debian (bzImage)
linux_kernel() {
    local kernel
    case "$1" in
        minimal) kernel="$(linux_kernel_dir microvm)/vmlinux" ;;
        minimal-bzimage) kernel="$(linux_kernel_dir microvm)/bzImage" ;;
        acpi) kernel="$(linux_kernel_dir acpi)/vmlinux" ;;
        debian) kernel=$(ls /boot/vmlinuz-*-amd64 2>/dev/null | sort -V | tail -n 1) ;;
        *) fail "unknown kernel kind $1" ;;
    esac
    [ -n "$kernel" ] && [ -r "$kernel" ] || skip "kernel $1 not available (${kernel:-no /boot/vmlinuz-*-amd64})"
    echo "$kernel"
}

# linux_initramfs spin|busybox: builds the image into TEST_TMP, prints its path.
linux_initramfs() {
    "$linux_repo/guest-images/linux/build-initramfs.sh" "$1" "$TEST_TMP/$1.cpio.gz" >/dev/null ||
        fail "build-initramfs.sh $1 failed"
    echo "$TEST_TMP/$1.cpio.gz"
}
