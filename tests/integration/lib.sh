# Shared helpers for skiff's integration tests (sourced, bash).
# Each test gets its own temporary directory, removed on every exit path.
set -Eeuo pipefail
# A command that fails where nothing checks it ends the test (set -e): say
# which, or the test fails without a word.
# (77 is a skip passed up from a subshell.)
trap 'error_status=$?; [ "$error_status" -eq 77 ] ||
    echo "FAIL: ${BASH_SOURCE[0]##*/}:$LINENO: \"$BASH_COMMAND\" exited with status $error_status" >&2' ERR

SKIP=77
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/skiff-test.XXXXXX")
cleanup_hooks=()
on_exit() {
    local hook
    for hook in "${cleanup_hooks[@]}"; do eval "$hook" || true; done
    rm -rf "$TEST_TMP"
}
trap on_exit EXIT
# A test stopped from outside (ctest's timeout, Ctrl-C) cleans up too: bash
# runs no EXIT trap when a signal without a trap ends it.
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

fail() { echo "FAIL: $*" >&2; exit 1; }
skip() { echo "SKIP: $*" >&2; exit "$SKIP"; }

# Skips the test (exit 77) where this host cannot run KVM guests; the test
# script scripts/test.sh runs such tests inside tests/l1vm/run.sh instead.
require_kvm() {
    if ! { [ -c /dev/kvm ] && exec 3<>/dev/kvm; } 2>/dev/null; then
        skip "/dev/kvm is not usable here (run through tests/l1vm/run.sh)"
    fi
    exec 3>&-
}

# run_skiff NAME ARGS...: runs skiff with the given arguments, stdout to
# $TEST_TMP/NAME.out, stderr to $TEST_TMP/NAME.err, status in $status.
run_skiff() {
    local name=$1; shift
    # In a || list: a non-zero status is this helper's result, not a
    # failure for the ERR trap to report.
    status=0
    "$SKIFF" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null || status=$?
    local words="$*"
    [ "${#words}" -le 300 ] || words="${words:0:300}... (${#words} characters)"
    echo "--- skiff $words -> exit $status"
    sed 's/^/  out| /' "$TEST_TMP/$name.out" | tail -n 40
    sed 's/^/  err| /' "$TEST_TMP/$name.err" | tail -n 20
}

expect_status() {
    [ "$status" -eq "$1" ] || fail "expected exit status $1, got $status"
}

# expect_output NAME REGEX: the guest console (stdout) has a matching line.
expect_output() {
    grep -E -q -- "$2" "$TEST_TMP/$1.out" || fail "console of $1 lacks /$2/"
}

expect_error() {
    grep -E -q -- "$2" "$TEST_TMP/$1.err" || fail "stderr of $1 lacks /$2/"
}
