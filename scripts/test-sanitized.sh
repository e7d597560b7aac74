#!/usr/bin/env bash
# The sanitizer leg of CI: builds skiff, its tests and the fuzz targets with
# clang under AddressSanitizer and UndefinedBehaviorSanitizer (build-sanitize,
# -DSKIFF_FUZZ=ON, which implies -DSKIFF_SANITIZE=ON), then runs
#   1. ctest labels unit, host and fuzz (the fuzz label replays each fuzz
#      target's committed corpus and crash reproducers);
#   2. label kvm (boots the test guest, the hostile one included, with the
#      sanitized skiff): one test at a time on this host when /dev/kvm is
#      usable here, else in L1 VMs (tests/l1vm/run-label.sh, which resumes
#      in a fresh VM after an L1 failure);
#   3. each fuzz target for its fixed number of inputs (tests/fuzz/run.sh
#      --ci), one summary line per target.
# Any sanitizer finding fails the test it happens in (halt_on_error; UBSan
# is built without recovery; LeakSanitizer on where it works). Prints the
# time of each step. Exit status: non-zero if anything failed.
#
# Environment: SKIFF_SANITIZE_BUILD_DIR (default <repo>/build-sanitize),
# SKIFF_TEST_SUMMARY (a file to add per-label counts to, as scripts/test.sh
# prints them; default: one of its own, printed at the end),
# SKIFF_JOBS (build and ctest parallelism, default nproc),
# SKIFF_SKIP_KVM=1 / SKIFF_SKIP_FUZZ=1 leave out step 2 / step 3.
# --build-only: installs and builds, nothing more (scripts/test.sh builds
# before its lanes start, while both cores are free).
set -euo pipefail
cd "$(dirname "$0")/.."
top=$(pwd)
build=${SKIFF_SANITIZE_BUILD_DIR:-$top/build-sanitize}
jobs=${SKIFF_JOBS:-$(nproc)}

step_start=$(date +%s)
timings=()
step_done() {
    local now
    now=$(date +%s)
    timings+=("$1: $((now - step_start)) s")
    echo "test-sanitized.sh: $1 took $((now - step_start)) s" >&2
    step_start=$now
}

scripts/install-deps.sh fuzz
CC=clang CXX=clang++ cmake -S . -B "$build" -DSKIFF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$jobs"
step_done "build"
[ "${1:-}" = --build-only ] && exit 0

# A finding ends the process with a report and its stack, symbolized.
symbolizer=$(command -v llvm-symbolizer || true)
export ASAN_OPTIONS="halt_on_error=1:print_stacktrace=1:check_initialization_order=1:detect_leaks=1${symbolizer:+:external_symbolizer_path=$symbolizer}"
export UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1${symbolizer:+:external_symbolizer_path=$symbolizer}"
# LeakSanitizer needs ptrace-free, non-seccomp'd stop-the-world; where it
# cannot run (some containers) it would fail every test: turn it off there.
if ! "$build/skiff" --version >/dev/null 2>&1; then
    echo "test-sanitized.sh: LeakSanitizer does not work here: leaks are not checked" >&2
    export ASAN_OPTIONS="${ASAN_OPTIONS/detect_leaks=1/detect_leaks=0}"
fi

source scripts/lib/test_summary.sh
own_summary=0
if [ -z "${SKIFF_TEST_SUMMARY:-}" ]; then
    own_summary=1
    export SKIFF_TEST_SUMMARY=$build/test-summary.tsv
    : >"$SKIFF_TEST_SUMMARY"
fi
kvm_usable() { [ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-; }

status=0
summary_ctest 'sanitized unit|host|fuzz' --test-dir "$build" -L 'unit|host|fuzz' --output-on-failure -j"$jobs" || status=1
step_done "ctest unit|host|fuzz"
if [ "${SKIFF_SKIP_KVM:-0}" = 1 ]; then
    echo "test-sanitized.sh: label kvm skipped (SKIFF_SKIP_KVM=1)" >&2
else
    # On a host whose /dev/kvm works, what needs the L1 VM (label nested)
    # is left out, as scripts/test.sh runs it there unsanitized.
    exclude=()
    kvm_usable && exclude=(-LE 'nested|linux')
    tests/l1vm/run-label.sh --summary "$SKIFF_TEST_SUMMARY" --name 'sanitized kvm' -- \
        "$build" kvm "${exclude[@]}" || status=1
    step_done "ctest kvm"
fi
if [ "${SKIFF_SKIP_FUZZ:-0}" != 1 ]; then
    SKIFF_FUZZ_BUILD_DIR="$build" SKIFF_JOBS="$jobs" tests/fuzz/run.sh --ci || status=1
    step_done "fuzz --ci"
fi

echo "test-sanitized.sh: ${timings[*]}; $([ "$status" = 0 ] && echo passed || echo FAILED)" >&2
[ "$own_summary" = 0 ] || summary_print
exit $status
