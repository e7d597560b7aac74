#!/usr/bin/env bash
# Host input reaches the guest: bytes on skiff's stdin go through the event
# loop into the 8250's receive FIFO; the test guest (testguest.mode=echo)
# reads a line at CPL3 and prints it back.
# usage: console_input.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2
require_kvm

set +e
printf 'hello from the host 0123456789\n' |
    "$SKIFF" run --kernel "$GUEST" --cmdline "testguest.mode=echo" --timeout 60 \
        >"$TEST_TMP/echo.out" 2>"$TEST_TMP/echo.err"
status=$?
set -e
cat "$TEST_TMP/echo.out" "$TEST_TMP/echo.err"
expect_status 0
expect_output echo '^skiff-testguest: echo=hello from the host 0123456789$'
echo "PASS: console input reached the guest"
