#!/usr/bin/env bash
# Runs the tests of a ctest label one at a time and records each outcome,
# so that a run cut short (the L1 VM died) can be resumed at the first test
# without one. Used by run-label.sh, inside tests/l1vm/run.sh.
#
#   ctest-each.sh BUILD_DIR RECORD LABEL [SELECTION...] [CTEST OPTION...]
#   ctest-each.sh --list BUILD_DIR LABEL [SELECTION...]
#
# SELECTION: ctest's -LE EXCLUDED_LABEL, -R REGEX and -E REGEX, leading
# the options; they choose which of the label's tests run (each test then
# runs on its own, by its exact name).
# RECORD gets "NAME started" before each test and "NAME passed" or "NAME
# failed" after it. Tests already recorded as passed or failed are skipped.
# --list prints the label's test names. Exit status: 0 when every test of
# the label is recorded as passed.
set -uo pipefail

list_tests() {
    local build=$1 label=$2
    shift 2
    ctest --test-dir "$build" -N -L "$label" "$@" | sed -n 's/^ *Test *#[0-9]*: //p'
}

if [ "${1:-}" = --list ]; then
    shift
    build=$1 label=$2
    shift 2
    list_tests "$build" "$label" "$@"
    exit
fi

build=$1 record=$2 label=$3
shift 3
select=()
while [ $# -ge 2 ] && { [ "$1" = -LE ] || [ "$1" = -R ] || [ "$1" = -E ]; }; do
    select+=("$1" "$2")
    shift 2
done
touch "$record"
mapfile -t tests < <(list_tests "$build" "$label" "${select[@]}")
status=0
for test in "${tests[@]}"; do
    if ! grep -q -E "^$test (passed|failed)\$" "$record"; then
        echo "$test started" >>"$record"
        sync "$record" 2>/dev/null || true
        outcome=passed
        ctest --test-dir "$build" -R "^${test}\$" --output-on-failure "$@" || outcome=failed
        echo "$test $outcome" >>"$record"
        sync "$record" 2>/dev/null || true
    fi
    grep -qx "$test passed" "$record" || status=1
done
exit $status
