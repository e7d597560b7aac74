#!/usr/bin/env bash
# mode=vhost where /dev/vhost-net does not exist (this host; skipped where
# it does): start-up fails before /dev/kvm is opened with the one-line
# cause-and-fix message and exit 1, and the tap skiff created for it is
# gone again. Runs in a network namespace of its own.
# usage: net_vhost_errors.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2
[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, taps)"
[ -c /dev/net/tun ] || skip "no /dev/net/tun"
command -v ip >/dev/null || skip "ip (iproute2) not found"
[ ! -e /dev/vhost-net ] || skip "/dev/vhost-net exists here: the missing-device path cannot be shown"

ns=$(make_netns a)
for transport in mmio pci; do
    name=vhost_$transport
    set +e
    ip netns exec "$ns" "$SKIFF" run --kernel "$GUEST" --memory 64 \
        --net "mode=vhost,ifname=vt0,transport=$transport" --timeout 30 \
        >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null
    status=$?
    set -e
    echo "--- skiff run --net mode=vhost,ifname=vt0,transport=$transport -> exit $status"
    sed 's/^/  err| /' "$TEST_TMP/$name.err"
    expect_status 1
    expect_error "$name" '/dev/vhost-net not found: modprobe vhost_net, or use mode=tap'
    # One line for the user; nothing about /dev/kvm (never reached).
    [ "$(grep -c 'vhost-net' "$TEST_TMP/$name.err")" -eq 1 ] || fail "the vhost error is not exactly one line"
    if grep -q '/dev/kvm' "$TEST_TMP/$name.err"; then
        fail "skiff got as far as /dev/kvm"
    fi
    if in_ns "$ns" ip link show vt0 >/dev/null 2>&1; then
        fail "the tap vt0 that skiff created was left behind"
    fi
done
echo "PASS: mode=vhost without /dev/vhost-net fails before KVM with one clear line; no tap left behind"
