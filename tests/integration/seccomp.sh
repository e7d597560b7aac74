#!/usr/bin/env bash
# seccomp per thread: the test guest (two vCPUs, `tick` mode: runs until
# stopped) booted from a config file with the API and metrics on. With the
# filters on (the default), /proc/PID/task/*/status shows "Seccomp: 2"
# (filter mode) for each vCPU thread, the event loop, the API thread and the
# metrics thread, and the main thread too (but in sanitized builds, where
# LeakSanitizer runs on it at exit: "Seccomp: 0" there); the debug log has
# one "filter installed" line per thread kind; the VM pauses, resumes and
# ends on SIGTERM with exit 0 under the filters. With --no-seccomp no thread
# is filtered; `skiff run --no-seccomp` boots and shuts down.
# usage: seccomp.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_curl

cat >"$TEST_TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$GUEST", "boot_args": "console=ttyS0 testguest.mode=tick"},
  "machine-config": {"vcpu_count": 2, "mem_size_mib": 64},
  "metrics": {"metrics_path": "$TEST_TMP/metrics.json"}
}
JSON

start() {
    local name=$1; shift
    API_SOCK="$TEST_TMP/$name.sock"
    "$SKIFF" --api-sock "$API_SOCK" --config-file "$TEST_TMP/vm.json" --level Debug "$@" \
        >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null &
    skiff_pid=$!
    cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
    echo "--- skiff $* (pid $skiff_pid)"
    wait_socket "$API_SOCK" 10
    local deadline=$((SECONDS + 60))
    until grep -q 'skiff-testguest: tick 3' "$TEST_TMP/$name.out"; do
        kill -0 "$skiff_pid" 2>/dev/null || { show "$name"; fail "skiff exited before the guest ticked"; }
        [ $SECONDS -lt $deadline ] || { show "$name"; fail "the guest did not tick within 60 s"; }
        sleep 0.1
    done
    # The API thread filters itself at its first connection after the start.
    api_expect 200 GET /
    echo "$api_body" | grep -q '"state":"Running"' || fail "GET /: $api_body"
}

show() {
    sed 's/^/  out| /' "$TEST_TMP/$1.out" | tail -n 5
    sed 's/^/  err| /' "$TEST_TMP/$1.err" | tail -n 30
}

# seccomp_mode NAME: the Seccomp: field of each skiff thread called NAME
# (one line per thread); fails when there is none.
seccomp_mode() {
    local task found=0
    for task in /proc/"$skiff_pid"/task/*; do
        if [ "$(cat "$task/comm")" = "$1" ]; then
            awk '/^Seccomp:/ {print $2}' "$task/status"
            found=1
        fi
    done
    [ $found -eq 1 ] || fail "no thread named $1 in skiff (threads: $(cat /proc/"$skiff_pid"/task/*/comm | tr '\n' ' '))"
}

expect_mode() {
    local name=$1 want=$2 modes
    modes=$(seccomp_mode "$name")
    echo "  $name: Seccomp: $(echo $modes)"
    for mode in $modes; do
        [ "$mode" = "$want" ] || fail "thread $name has Seccomp: $mode, expected $want"
    done
}

# stop NAME: SIGTERM; skiff must exit 0.
stop() {
    kill -TERM "$skiff_pid"
    local deadline=$((SECONDS + 20))
    while kill -0 "$skiff_pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || { show "$1"; fail "skiff still runs 20 s after SIGTERM"; }
        sleep 0.1
    done
    set +e
    wait "$skiff_pid"
    status=$?
    set -e
    show "$1"
    [ "$status" -eq 0 ] || fail "skiff exited $status after SIGTERM (expected 0)"
}

# Filters on (the default).
start filtered
# The main thread filters itself within 50 ms of the start (its wait loop).
sleep 0.2
main_mode=$(awk '/^Seccomp:/ {print $2}' /proc/"$skiff_pid"/status)
echo "  main thread: Seccomp: $main_mode"
if [ "${SKIFF_SANITIZED:-0}" = 1 ]; then
    [ "$main_mode" = 0 ] || fail "sanitized build: the main thread is filtered (Seccomp: $main_mode)"
else
    [ "$main_mode" = 2 ] || fail "the main thread is not filtered (Seccomp: $main_mode)"
fi
expect_mode skiff-vcpu0 2
expect_mode skiff-vcpu1 2
expect_mode skiff-vmm 2
expect_mode skiff-api 2
expect_mode skiff-metrics 2
# Pausing and resuming kick the vCPUs from the API thread, under its filter.
api_expect 204 PATCH /vm '{"state": "Paused"}'
api_expect 204 PATCH /vm '{"state": "Resumed"}'
api_expect 204 PUT /actions '{"action_type": "FlushMetrics"}'
stop filtered
kinds="vcpu event-loop api"
[ "${SKIFF_SANITIZED:-0}" = 1 ] || kinds="$kinds main"
for kind in $kinds; do
    grep -E -q "seccomp: $kind filter installed \([0-9]+ system calls allowed\)" "$TEST_TMP/filtered.err" ||
        fail "no debug line for the $kind filter"
done
[ "$(grep -c 'seccomp: vcpu filter installed' "$TEST_TMP/filtered.err")" -eq 1 ] ||
    fail "the vcpu filter was logged more than once"
grep -q 'forbidden system call' "$TEST_TMP/filtered.err" && fail "a forbidden system call under the filters"
[ -s "$TEST_TMP/metrics.json" ] || fail "the metrics thread wrote nothing"

# --no-seccomp: nobody filtered.
start unfiltered --no-seccomp
for name in skiff-vcpu0 skiff-vcpu1 skiff-vmm skiff-api skiff-metrics; do
    expect_mode "$name" 0
done
stop unfiltered
grep -q 'filter installed' "$TEST_TMP/unfiltered.err" && fail "--no-seccomp installed a filter"

# `skiff run` takes the flag too.
run_skiff run_off run --no-seccomp --kernel "$GUEST" --cmdline "console=ttyS0 testguest.mode=shutdown" \
    --serial stdio --timeout 60
expect_status 0
run_skiff run_on --log-level debug run --kernel "$GUEST" --cmdline "console=ttyS0 testguest.mode=shutdown" \
    --serial stdio --timeout 60
expect_status 0
expect_error run_on 'seccomp: vcpu filter installed'
expect_error run_on 'seccomp: event-loop filter installed'
[ "${SKIFF_SANITIZED:-0}" = 1 ] || expect_error run_on 'seccomp: main filter installed'
grep -q 'forbidden system call' "$TEST_TMP/run_on.err" && fail "a forbidden system call in skiff run"
echo "PASS: each thread kind filtered (Seccomp: 2), none with --no-seccomp"
