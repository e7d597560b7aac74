#!/usr/bin/env bash
# Runs COMMAND in RUNS fresh L1 VMs (tests/l1vm/run.sh), one after another,
# and counts how each ended: passed, failed (COMMAND's own failure), or an
# L1 failure (run.sh 122/123: the L1 VM could not set up, its kernel
# panicked or locked up). For every L1 failure it names the signature seen
# on the L1 console. This is how L1 configurations are compared: the same
# COMMAND, the same RUNS, one SKIFF_L1VM_* setting changed.
#
#   soak.sh [--runs N] [--logs DIR] [--label NAME] [RUN.SH OPTION...] -- COMMAND [ARGS...]
#
# --logs keeps each run's L1 console (run-K.console) and output (run-K.out)
# in DIR (default: a directory under ${TMPDIR:-/tmp}); --label names the
# configuration in the summary. The last line is "N passed, M failed"
# (M counts test failures and L1 failures). Exit status: 0 when every run
# passed.
set -uo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)

runs=10 logs='' label='' run_options=()
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        --logs) logs=$2; shift 2 ;;
        --label) label=$2; shift 2 ;;
        --) shift; break ;;
        *) run_options+=("$1"); shift ;;
    esac
done
[ $# -gt 0 ] || { sed -n '10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
[[ $runs =~ ^[1-9][0-9]*$ ]] || { echo "soak: --runs wants a positive integer" >&2; exit 2; }
logs=${logs:-$(mktemp -d "${TMPDIR:-/tmp}/l1soak.XXXXXX")}
mkdir -p "$logs"

source "$script_dir/console_lib.sh"

passed=0 failed=0 l1_failures=0
started=$SECONDS
for run in $(seq 1 "$runs"); do
    run_started=$SECONDS
    status=0
    "$script_dir/run.sh" --force-vm --console-log "$logs/run-$run.console" "${run_options[@]}" -- "$@" \
        >"$logs/run-$run.out" 2>&1 || status=$?
    seconds=$((SECONDS - run_started))
    kernel=$(l1_kernel_of "$logs/run-$run.console")
    case $status in
        0) outcome=passed; passed=$((passed + 1)) ;;
        122 | 123) outcome="L1 failure ($status): $(l1_death_of "$logs/run-$run.console")"
            failed=$((failed + 1)); l1_failures=$((l1_failures + 1)) ;;
        *) outcome="failed ($status)"; failed=$((failed + 1)) ;;
    esac
    echo "soak${label:+ [$label]}: run $run/$runs, ${seconds} s, L1 kernel ${kernel:-?}: $outcome"
done
echo "soak${label:+ [$label]}: $runs runs in $((SECONDS - started)) s: $passed passed, $((failed - l1_failures)) failed, $l1_failures L1 failures; logs in $logs"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
