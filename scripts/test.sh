#!/usr/bin/env bash
# Builds skiff and runs its whole test suite:
#   1. unit tests and host-only integration tests (labels unit, host);
#   2. tests that boot guests (label kvm): on this host when /dev/kvm works,
#      otherwise inside a QEMU/TCG VM with nested SVM (tests/l1vm/run.sh);
#      those that need what only that VM has (label nested) in it too;
#   3. VFIO for real (label vfio) in such a VM with an emulated IOMMU;
#   then the sanitizer leg (scripts/test-sanitized.sh: ASan + UBSan build,
#   unit/host/kvm tests again, bounded fuzzing);
#   4. real Linux boots (label linux, slow), unless SKIFF_SKIP_LINUX=1: on
#      this host when its KVM runs guest kernels in hardware, else in the VM.
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

# in_l1vm_resumable LABEL [CTEST OPTION...]: the label's tests one by one
# in L1 VMs (tests/l1vm/ctest-each.sh). When the L1 VM locks up (nested KVM
# under TCG does, now and then, on a Linux guest), a fresh one resumes at
# the test that was running: up to 6 L1 VMs in all.
in_l1vm_resumable() {
    local label=$1
    shift
    local record="$top/build/l1vm-$label-record.txt"
    rm -f "$record"
    local status attempt
    for attempt in 1 2 3 4 5 6; do
        status=0
        tests/l1vm/run.sh --force-vm --cpus 2 --memory 4096 --timeout 2400 -- \
            "$top/tests/l1vm/ctest-each.sh" "$top/build" "$record" "$label" "$@" || status=$?
        if [ "$status" -ne 122 ] && [ "$status" -ne 123 ]; then
            break
        fi
        echo "test.sh: the L1 VM failed (status $status, L1 VM $attempt of 6); resuming after: $(wc -l <"$record") test(s) done" >&2
    done
    echo "test.sh: label $label in L1 VMs: $(grep -c ' passed$' "$record" || true) passed, $(grep -c ' failed$' "$record" || true) failed, $attempt L1 VM(s)" >&2
    return "$status"
}

# kvm_pvm (KVM without hardware virtualization): guest user mode runs
# natively, guest kernel mode is emulated at ~0.6 us per instruction, so a
# Linux boot takes minutes there; under nested KVM in the L1 VM it takes
# seconds.
kernel_mode_emulated() { [ -d /sys/module/kvm_pvm ]; }

status=0
ctest --test-dir build -L 'unit|host' --output-on-failure -j"$jobs" || status=1
if kvm_usable; then
    ctest --test-dir build -L kvm --output-on-failure || status=1
    # What the host lacks (vhost-net, forced emulation), in the L1 VM.
    echo "test.sh: label nested inside tests/l1vm/run.sh" >&2
    in_l1vm --force-vm -- ctest --test-dir "$top/build" -L nested --output-on-failure || status=1
else
    echo "test.sh: /dev/kvm is not usable here: running inside tests/l1vm/run.sh" >&2
    in_l1vm -- ctest --test-dir "$top/build" -L kvm --output-on-failure || status=1
fi
# VFIO for real: always in an L1 VM with an emulated IOMMU and QEMU's edu
# device to pass through (few hosts have a spare device and an IOMMU).
in_l1vm --vfio-edu -- ctest --test-dir "$top/build" -L vfio --output-on-failure || status=1

# The sanitizer leg: clang, ASan + UBSan, unit, host, fuzz-corpus and kvm
# tests again, then every fuzz target for a fixed number of inputs.
scripts/test-sanitized.sh || status=1

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
    if kvm_usable && ! kernel_mode_emulated; then
        ctest --test-dir "$top/build" -L linux --output-on-failure --repeat until-pass:2 || status=1
    else
        in_l1vm_resumable linux --repeat until-pass:2 || status=1
    fi
fi
exit $status
