#!/usr/bin/env bash
# skiff's tap enslaved to a bridge that a second namespace also reaches
# (through a veth pair): that namespace talks to the guest.
#   namespace "a": bridge br0 <- tap (skiff's), veth va
#   namespace "b": veth vb 10.0.5.3/24
# usage: net_bridge.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net

a=$(make_netns a)
b=$(make_netns b)
in_ns "$a" ip link add br0 type bridge
in_ns "$a" ip link set br0 up
in_ns "$a" ip link add va type veth peer name vb netns "$b"
in_ns "$a" ip link set va master br0 up
in_ns "$b" ip addr add 10.0.5.3/24 dev vb
in_ns "$b" ip link set vb up

start_skiff guest "$a" --log-level debug run --kernel "$GUEST" --memory 64 \
    --net mode=tap,ifname=sktap0,bridge=br0 --cmdline "ip=10.0.5.2::10.0.5.1:255.255.255.0" --timeout 300
wait_console guest '^skiff-testguest: network ready' 60
in_ns "$a" ip link show sktap0 | grep -q "master br0" || fail "sktap0 is not on br0"
ping_ok "$b" 10.0.5.2 20 56
ping_ok "$b" 10.0.5.2 5 1472
udp_echo_ok "$b" 10.0.5.2
stop_skiff guest
echo "PASS: guest <-> second namespace across the bridge"
