#!/usr/bin/env bash
# Malformed, truncated and missing images and bad flags: one clear error
# line, a documented non-zero status, never a crash. Needs no KVM: images are
# checked before /dev/kvm is opened.
# usage: bad_input.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2

check_rejected() {  # NAME EXPECTED_STATUS REGEX ARGS...
    local name=$1 expected=$2 regex=$3; shift 3
    run_skiff "$name" "$@"
    expect_status "$expected"
    expect_error "$name" "$regex"
    # Anything but a clean exit (a signal: 128+n) would be a crash.
    [ "$status" -lt 128 ] || fail "skiff crashed on $name"
}

check_rejected missing 2 'kernel|File does not exist' run --kernel "$TEST_TMP/nope"
check_rejected badflag 2 'cpus|not in range|Range' run --kernel "$GUEST" --cpus 0
check_rejected badserial 2 'serial|stdio' run --kernel "$GUEST" --serial tty
check_rejected noapi_nofile 2 'config-file' --no-api

head -c 4096 /dev/urandom >"$TEST_TMP/random.img"
check_rejected random 1 'kernel' run --kernel "$TEST_TMP/random.img"
: >"$TEST_TMP/empty.img"
check_rejected empty 1 'kernel' run --kernel "$TEST_TMP/empty.img"
head -c 200 "$GUEST" >"$TEST_TMP/truncated.elf"
check_rejected truncated_elf 1 'kernel' run --kernel "$TEST_TMP/truncated.elf"
if [ -n "${BZIMAGE:-}" ] && [ -r "$BZIMAGE" ]; then
    head -c 600000 "$BZIMAGE" >"$TEST_TMP/truncated.bz"
    check_rejected truncated_bzimage 1 'kernel' run --kernel "$TEST_TMP/truncated.bz"
    check_rejected too_big 1 'memory|fit' run --kernel "$BZIMAGE" --memory 16
fi
check_rejected directory 2 'kernel|File does not exist|directory' run --kernel "$TEST_TMP"
echo "PASS: bad input rejected cleanly"
