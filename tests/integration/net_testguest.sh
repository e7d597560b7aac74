#!/usr/bin/env bash
# The test guest on one virtio-net interface over TRANSPORT (mmio or pci),
# on a persistent tap in a namespace of its own: ping of small and
# MTU-sized packets with nothing lost, UDP echo of many sizes with content
# checked, SIGTERM ends skiff with status 0 and the (persistent) tap stays.
# usage: net_testguest.sh SKIFF TESTGUEST TRANSPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2 TRANSPORT=$3
require_kvm
require_net

ns=$(make_netns a)
add_tap "$ns" tap0 10.0.1.1/24
start_skiff guest "$ns" --log-level debug run --kernel "$GUEST" --memory 64 \
    --net "mode=tap,ifname=tap0,transport=$TRANSPORT" \
    --cmdline "ip=10.0.1.2::10.0.1.1:255.255.255.0" --timeout 300
wait_console guest '^skiff-testguest: network ready' 60
grep -q "^skiff-testguest: net0 $TRANSPORT " "$TEST_TMP/guest.out" || fail "the guest did not find net0 over $TRANSPORT"
ping_ok "$ns" 10.0.1.2 20 56
ping_ok "$ns" 10.0.1.2 5 1472
udp_echo_ok "$ns" 10.0.1.2
stop_skiff guest
in_ns "$ns" ip link show tap0 >/dev/null || fail "the persistent tap0 went away with skiff"
grep -q "net0: activated" "$TEST_TMP/guest.err" || fail "no activation logged"
echo "PASS: test guest over virtio-$TRANSPORT: ping and UDP echo"
