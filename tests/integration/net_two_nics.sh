#!/usr/bin/env bash
# Two interfaces at once, one per transport, on taps skiff creates itself:
# each answers ping and UDP echo on its own subnet, and both taps are gone
# once skiff has exited.
# usage: net_two_nics.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net

ns=$(make_netns a)
start_skiff guest "$ns" --log-level debug run --kernel "$GUEST" --memory 64 \
    --net mode=tap,ifname=sktap0,transport=mmio,mac=02:00:00:00:01:02 \
    --net mode=tap,ifname=sktap1,transport=pci,mac=02:00:00:00:02:02 \
    --cmdline "ip=10.0.1.2::10.0.1.1:255.255.255.0 ip=10.0.2.2::10.0.2.1:255.255.255.0" --timeout 300
wait_console guest '^skiff-testguest: network ready' 60
for index in 0 1; do
    in_ns "$ns" ip link show "sktap$index" >/dev/null || fail "skiff did not create sktap$index"
    in_ns "$ns" ip addr add "10.0.$((index + 1)).1/24" dev "sktap$index"
done
grep -q '^skiff-testguest: net0 mmio mac=02:00:00:00:01:02' "$TEST_TMP/guest.out" || fail "net0 over mmio"
grep -q '^skiff-testguest: net1 pci mac=02:00:00:00:02:02' "$TEST_TMP/guest.out" || fail "net1 over pci"
for address in 10.0.1.2 10.0.2.2; do
    ping_ok "$ns" "$address" 10 56
    ping_ok "$ns" "$address" 3 1472
    udp_echo_ok "$ns" "$address"
done
stop_skiff guest
for index in 0 1; do
    if in_ns "$ns" ip link show "sktap$index" >/dev/null 2>&1; then
        fail "sktap$index outlived skiff"
    fi
done
echo "PASS: two interfaces (mmio + pci) on taps skiff created and removed"
