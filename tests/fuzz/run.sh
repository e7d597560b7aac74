#!/usr/bin/env bash
# Builds skiff's libFuzzer targets with clang (ASan + UBSan) in their own
# build directory and runs each for a bounded time or number of inputs,
# starting from its committed seed corpus. Exits non-zero if any target
# crashes, leaks, times out or fails to build.
#
#   tests/fuzz/run.sh [SECONDS | -runs=N] [TARGET...]
#
#   SECONDS   per target (default 60); -runs=N: N inputs per target
#   TARGET    fuzz_virtio_mmio, fuzz_descriptor_chain, fuzz_virtio_pci,
#             fuzz_net_queue_pair, fuzz_api (default: all)
#
# Environment: SKIFF_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# SKIFF_JOBS (build parallelism, default 2). New inputs the fuzzer finds go
# to <build dir>/fuzz/corpus/<target>, crash reproducers to
# <build dir>/fuzz/artifacts/<target>/; replay one with
# `<build dir>/fuzz/<target> FILE` (SKIFF_FUZZ_LOG=debug shows what it does).
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SKIFF_FUZZ_BUILD_DIR:-$repo/build-fuzz}
all_targets=(fuzz_virtio_mmio fuzz_descriptor_chain fuzz_virtio_pci fuzz_net_queue_pair fuzz_api)

bound=(-max_total_time=60)
if [ $# -gt 0 ]; then
    case "$1" in
        -runs=[0-9]*) bound=("$1"); shift ;;
        [0-9]*) bound=(-max_total_time="$1"); shift ;;
        -h|--help) sed -n '2,19p' "$0"; exit 0 ;;
    esac
fi
targets=("${@:-${all_targets[@]}}")
for target in "${targets[@]}"; do
    case " ${all_targets[*]} " in
        *" $target "*) ;;
        *) echo "run.sh: unknown target $target (have: ${all_targets[*]})" >&2; exit 2 ;;
    esac
done

if ! command -v clang++ >/dev/null; then
    echo "run.sh: clang++ not found; install it with scripts/install-deps.sh fuzz" >&2
    exit 2
fi
CC=clang CXX=clang++ cmake -S "$repo" -B "$build" -DSKIFF_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"${SKIFF_JOBS:-2}" --target "${targets[@]}"

# Per-target input size limits: an operation list for mmio, a ring of up
# to 1024 entries (16 KiB descriptor table) for the chain walker, a few
# API requests.
max_len() {
    case "$1" in
        fuzz_virtio_mmio) echo 4096 ;;
        fuzz_descriptor_chain) echo 20480 ;;
        fuzz_virtio_pci) echo 4096 ;;
        fuzz_net_queue_pair) echo 16384 ;;
        fuzz_api) echo 4096 ;;
    esac
}

failed=()
for target in "${targets[@]}"; do
    corpus=$build/fuzz/corpus/$target
    artifacts=$build/fuzz/artifacts/$target
    mkdir -p "$corpus" "$artifacts"
    log=$build/fuzz/$target.log
    echo "== $target (${bound[*]})"
    status=0
    # New inputs go to the first directory; the committed seeds are read only.
    "$build/fuzz/$target" "${bound[@]}" -max_len="$(max_len "$target")" -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "$repo/tests/fuzz/corpus/$target" >"$log" 2>&1 || status=$?
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" || true)
    seconds=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" || true)
    coverage=$( (grep -E '^#[0-9]+' "$log" || true) | tail -1 |
        sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/cov \1, features \2/p')
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "   FAILED (exit $status) after ${executed:-?} inputs; log: $log"
        (grep -E 'ERROR|check failed|SUMMARY|Test unit written' "$log" || true) | head -5 | sed 's/^/   /'
    else
        echo "   ok: ${executed:-?} inputs in ${seconds:-?} s, ${coverage:-?}"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: failures in ${failed[*]}" >&2
    exit 1
fi
