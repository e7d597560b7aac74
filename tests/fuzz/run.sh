#!/usr/bin/env bash
# Builds skiff's libFuzzer targets with clang (ASan + UBSan) in their own
# build directory and runs each for a bounded time or number of inputs,
# starting from its committed seed corpus and regression inputs. Exits
# non-zero if any target crashes, leaks, times out or fails to build.
#
#   tests/fuzz/run.sh [SECONDS | -runs=N | --ci] [TARGET...]
#
#   SECONDS   per target (default 60); -runs=N: N inputs per target
#   --ci      CI mode: each target runs its own fixed number of inputs
#             (ci_runs below, ~10-25 s each here) from the committed corpus
#             only (new inputs go to a scratch directory, not kept), and
#             prints one line per target: "<target>: N inputs in S s, cov C"
#   TARGET    fuzz_virtio_mmio, fuzz_descriptor_chain, fuzz_virtio_pci,
#             fuzz_net_queue_pair, fuzz_api, fuzz_config_file,
#             fuzz_kernel_image (default: all)
#
# Environment: SKIFF_FUZZ_BUILD_DIR (default <repo>/build-fuzz),
# SKIFF_JOBS (build parallelism, default 2), SKIFF_FUZZ_SEED (libFuzzer's
# -seed; default random, printed). New inputs the fuzzer finds go to
# <build dir>/fuzz/corpus/<target>, crash reproducers to
# <build dir>/fuzz/artifacts/<target>/; replay one with
# `<build dir>/fuzz/<target> FILE` (SKIFF_FUZZ_LOG=debug shows what it
# does). A crash that is fixed: its reproducer goes to
# tests/fuzz/regressions/<target>/, which ctest (label fuzz) replays.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${SKIFF_FUZZ_BUILD_DIR:-$repo/build-fuzz}
all_targets=(fuzz_virtio_mmio fuzz_descriptor_chain fuzz_virtio_pci fuzz_net_queue_pair fuzz_api
    fuzz_config_file fuzz_kernel_image)

# CI mode's inputs per target, each measured at ~10-25 s on a 2-core host
# (sanitized build, a second fuzz job sharing the cores): see the README.
ci_runs() {
    case "$1" in
        fuzz_virtio_mmio) echo 20000 ;;
        fuzz_descriptor_chain) echo 80000 ;;
        fuzz_virtio_pci) echo 5000 ;;
        fuzz_net_queue_pair) echo 15000 ;;
        fuzz_api) echo 4000 ;;
        fuzz_config_file) echo 25000 ;;
        fuzz_kernel_image) echo 150000 ;;
    esac
}

ci=0
bound=(-max_total_time=60)
if [ $# -gt 0 ]; then
    case "$1" in
        -runs=[0-9]*) bound=("$1"); shift ;;
        [0-9]*) bound=(-max_total_time="$1"); shift ;;
        --ci) ci=1; shift ;;
        -h|--help) sed -n '2,27p' "$0"; exit 0 ;;
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
        fuzz_config_file) echo 4096 ;;
        fuzz_kernel_image) echo 16384 ;;
    esac
}

seed=${SKIFF_FUZZ_SEED:-$(( (RANDOM << 15 | RANDOM) + 1 ))}
echo "run.sh: libFuzzer -seed=$seed (SKIFF_FUZZ_SEED=$seed repeats this run)"
failed=()
summary=()
for target in "${targets[@]}"; do
    artifacts=$build/fuzz/artifacts/$target
    if [ "$ci" = 1 ]; then
        # A scratch directory for what the fuzzer adds: CI starts from the
        # committed inputs every time.
        corpus=$build/fuzz/ci-corpus/$target
        rm -rf "$corpus"
        run_bound=(-runs="$(ci_runs "$target")")
    else
        corpus=$build/fuzz/corpus/$target
        run_bound=("${bound[@]}")
    fi
    mkdir -p "$corpus" "$artifacts"
    inputs=("$repo/tests/fuzz/corpus/$target")
    if [ -d "$repo/tests/fuzz/regressions/$target" ]; then
        inputs+=("$repo/tests/fuzz/regressions/$target")
    fi
    log=$build/fuzz/$target.log
    echo "== $target (${run_bound[*]})"
    status=0
    started=$(date +%s.%N)
    # New inputs go to the first directory; the committed ones are read only.
    "$build/fuzz/$target" "${run_bound[@]}" -seed="$seed" -max_len="$(max_len "$target")" -timeout=10 \
        -rss_limit_mb=2048 -print_final_stats=1 -artifact_prefix="$artifacts/" \
        "$corpus" "${inputs[@]}" >"$log" 2>&1 || status=$?
    seconds=$(awk -v start="$started" -v end="$(date +%s.%N)" 'BEGIN { printf "%.1f", end - start }')
    executed=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" || true)
    coverage=$( (grep -E '^#[0-9]+' "$log" || true) | tail -1 | sed -n 's/.*cov: \([0-9]*\) ft: \([0-9]*\).*/\1/p')
    if [ "$status" -ne 0 ]; then
        failed+=("$target")
        echo "   FAILED (exit $status) after ${executed:-?} inputs; log: $log"
        (grep -E 'ERROR|check failed|SUMMARY|Test unit written' "$log" || true) | head -5 | sed 's/^/   /'
    else
        echo "   ok"
        summary+=("$target: ${executed:-?} inputs in $seconds s, cov ${coverage:-?}")
    fi
done

if [ ${#summary[@]} -gt 0 ]; then
    echo "run.sh: summary"
    printf '%s\n' "${summary[@]}"
fi
if [ ${#failed[@]} -gt 0 ]; then
    echo "run.sh: failures in ${failed[*]}" >&2
    exit 1
fi
