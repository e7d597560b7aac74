#!/usr/bin/env bash
# Builds skiff and runs its whole test suite:
#   1. unit tests and host-only integration tests (labels unit, host);
#   2. tests that boot guests (label kvm): on this host when /dev/kvm works,
#      otherwise inside a QEMU/TCG VM with nested SVM (tests/l1vm/run.sh);
#   3. real Linux boots (label linux, slow), unless SKIFF_SKIP_LINUX=1.
# Installs missing Debian packages first. Exit status: non-zero if any
# test failed.
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
jobs=$(nproc)

scripts/install-deps.sh all
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$jobs"

kvm_usable() { [ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-; }
# in_l1vm [RUN.SH OPTIONS] -- COMMAND: COMMAND inside tests/l1vm/run.sh.
in_l1vm() {
    local options=()
    while [ "$1" != -- ]; do options+=("$1"); shift; done
    shift
    local status attempt
    for attempt in 1 2 3; do
        status=0
        tests/l1vm/run.sh --cpus 2 --memory 4096 --timeout 2400 "${options[@]}" -- "$@" || status=$?
        # 122/123: the L1 VM itself failed (set-up, panic, lock-up), not a
        # test: run the label again in a fresh one (at most three times).
        if [ "$status" -ne 122 ] && [ "$status" -ne 123 ]; then
            break
        fi
        echo "test.sh: the L1 VM failed (status $status, attempt $attempt of 3)" >&2
    done
    return "$status"
}
run_with_kvm() {
    if kvm_usable; then
        "$@"
        return
    fi
    echo "test.sh: /dev/kvm is not usable here: running inside tests/l1vm/run.sh" >&2
    in_l1vm -- "$@"
}

status=0
ctest --test-dir build -L 'unit|host' --output-on-failure -j"$jobs" || status=1
run_with_kvm ctest --test-dir "$top/build" -L kvm --output-on-failure || status=1
# VFIO for real: always in an L1 VM with an emulated IOMMU and QEMU's edu
# device to pass through (few hosts have a spare device and an IOMMU).
in_l1vm --vfio-edu -- ctest --test-dir "$top/build" -L vfio --output-on-failure || status=1

if [ "${SKIFF_SKIP_LINUX:-0}" != 1 ]; then
    linux_dir=$(guest-images/linux/build-kernel.sh | tail -n 1)
    export SKIFF_LINUX_DIR=$linux_dir
    # The ACPI variant: virtio-mmio found in the DSDT (linux_net_mmio-acpi).
    linux_acpi_dir=$(guest-images/linux/build-kernel.sh acpi | tail -n 1)
    export SKIFF_LINUX_ACPI_DIR=$linux_acpi_dir
    # Kernels reach /init in 3-16 s here; a boot that has not after 4 minutes
    # is stuck (a nested 2-vCPU boot has been seen to hang), and the retry
    # below gets it a fresh start sooner than the scripts' 900 s default.
    export SKIFF_LINUX_BOOT_LIMIT=${SKIFF_LINUX_BOOT_LIMIT:-240}
    # One retry: under nested KVM in TCG (hosts without /dev/kvm) a Linux AP
    # has been seen to miss its start-up deadline once in ~20 boots. A test
    # that fails twice fails the run.
    run_with_kvm ctest --test-dir "$top/build" -L linux --output-on-failure --repeat until-pass:2 || status=1
fi
exit $status
