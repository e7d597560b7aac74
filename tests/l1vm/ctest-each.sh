#!/usr/bin/env bash
# Runs the tests of a ctest label one at a time and records each outcome,
# so that a run cut short (the L1 VM locked up) can be resumed at the first
# test without one. Used by scripts/test.sh inside tests/l1vm/run.sh.
#
#   ctest-each.sh BUILD_DIR RECORD LABEL [CTEST OPTION...]
#
# RECORD gets one line per finished test: "NAME passed" or "NAME failed".
# Tests already in RECORD are skipped. Exit status: 0 when every test of
# the label is recorded as passed.
set -uo pipefail
build=$1 record=$2 label=$3
shift 3
touch "$record"
mapfile -t tests < <(ctest --test-dir "$build" -N -L "$label" | sed -n 's/^ *Test *#[0-9]*: //p')
status=0
for test in "${tests[@]}"; do
    if ! grep -q "^$test " "$record"; then
        outcome=passed
        ctest --test-dir "$build" -R "^${test}\$" --output-on-failure "$@" || outcome=failed
        echo "$test $outcome" >>"$record"
        sync "$record" 2>/dev/null || true
    fi
    grep -qx "$test passed" "$record" || status=1
done
exit $status
