#!/usr/bin/env bash
# How a running VM ends: --timeout (exit 5), SIGTERM (exit 0), serial to a
# file, and a guest that never shuts down.
# usage: exit_paths.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2
require_kvm

run_skiff timeout run --kernel "$GUEST" --cmdline "testguest.mode=halt" --timeout 2
expect_status 5
expect_output timeout '^skiff-testguest: booted'
expect_error timeout 'timeout'

"$SKIFF" run --kernel "$GUEST" --cmdline "testguest.mode=halt" --serial "file:$TEST_TMP/console.txt" \
    >"$TEST_TMP/term.out" 2>"$TEST_TMP/term.err" </dev/null &
pid=$!
cleanup_hooks+=("kill -KILL $pid 2>/dev/null")
for _ in $(seq 1 100); do
    grep -q 'skiff-testguest: booted' "$TEST_TMP/console.txt" 2>/dev/null && break
    sleep 0.1
done
grep -q 'skiff-testguest: booted' "$TEST_TMP/console.txt" || fail "guest did not boot within 10 s"
kill -TERM "$pid"
set +e; wait "$pid"; status=$?; set -e
cat "$TEST_TMP/term.err"
expect_status 0
grep -q 'stopped by signal 15' "$TEST_TMP/term.err" || fail "no stop message"
[ ! -s "$TEST_TMP/term.out" ] || fail "console went to stdout despite --serial file:"
echo "PASS: timeout, SIGTERM and file console"
