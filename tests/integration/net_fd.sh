#!/usr/bin/env bash
# --net mode=tap,fd=N: a caller (as a jailer or runtime would) opens the tap
# itself (TUNSETIFF IFF_TAP | IFF_NO_PI | IFF_VNET_HDR) and hands skiff the
# fd; the guest answers ping through it. A pipe passed as fd= is refused
# with a clear error and exit 1.
# usage: net_fd.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net
command -v python3 >/dev/null || skip "python3 not found"

ns=$(make_netns a)
add_tap "$ns" tap0 10.0.3.1/24
# Opens tap0 on fd 3 and execs skiff with it.
cat >"$TEST_TMP/with_tap_fd.py" <<'PY'
import fcntl, os, struct, sys
IFF_TAP, IFF_NO_PI, IFF_VNET_HDR, TUNSETIFF = 0x0002, 0x1000, 0x4000, 0x400454ca
fd = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH", b"tap0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR))
if fd != 3:
    os.dup2(fd, 3)
os.set_inheritable(3, True)
os.execv(sys.argv[1], sys.argv[1:])
PY
ip netns exec "$ns" python3 "$TEST_TMP/with_tap_fd.py" "$SKIFF" --log-level debug run --kernel "$GUEST" \
    --memory 64 --net mode=tap,fd=3 --cmdline "ip=10.0.3.2::10.0.3.1:255.255.255.0" --timeout 300 \
    >"$TEST_TMP/guest.out" 2>"$TEST_TMP/guest.err" </dev/null &
skiff_pid=$!
cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
wait_console guest '^skiff-testguest: network ready' 90
grep -q "tap 'tap0'" "$TEST_TMP/guest.err" || fail "skiff did not name the tap behind fd 3"
ping_ok "$ns" 10.0.3.2 10 56
stop_skiff guest

run_skiff fd0 run --kernel "$GUEST" --memory 64 --net mode=tap,fd=0 --timeout 30 || true
if [ "$status" -ne 2 ]; then
    fail "fd=0 should be refused as a usage error (got $status)"
fi
ip netns exec "$ns" bash -c "exec 5< <(true); exec \"$SKIFF\" run --kernel \"$GUEST\" --memory 64 --net mode=tap,fd=5 --timeout 30" \
    >"$TEST_TMP/pipe.out" 2>"$TEST_TMP/pipe.err" </dev/null && status=0 || status=$?
cat "$TEST_TMP/pipe.err"
[ "$status" -eq 1 ] || fail "a pipe as fd= should fail start-up with exit 1 (got $status)"
grep -q "is not a tap" "$TEST_TMP/pipe.err" || fail "the error does not say the fd is not a tap"
echo "PASS: a tap handed over as fd=3 carries the guest's traffic; a pipe is refused"
