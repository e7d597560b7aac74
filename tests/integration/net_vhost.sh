#!/usr/bin/env bash
# The test guest on one virtio-net interface over TRANSPORT (mmio or pci)
# in mode=vhost: the kernel's vhost-net worker moves the packets between
# the guest's rings and a persistent tap in a namespace of its own.
# Ping of small and MTU-sized packets with nothing lost and UDP echo of
# many sizes with content checked, from a second namespace routed through
# the first; SIGTERM ends skiff with status 0 and the (persistent) tap stays.
# usage: net_vhost.sh SKIFF TESTGUEST TRANSPORT
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2 TRANSPORT=$3
require_kvm
require_net
[ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
[ -c /dev/vhost-net ] || skip "no /dev/vhost-net (modprobe vhost_net)"

# Namespace a holds skiff and the tap; b is "another machine" reaching
# the guest through a veth and a's forwarding.
ns=$(make_netns a)
client=$(make_netns b)
in_ns "$ns" ip link add veth-a type veth peer name veth-b netns "$client"
in_ns "$ns" ip addr add 10.0.9.1/24 dev veth-a
in_ns "$ns" ip link set veth-a up
in_ns "$client" ip addr add 10.0.9.2/24 dev veth-b
in_ns "$client" ip link set veth-b up
in_ns "$client" ip route add default via 10.0.9.1
in_ns "$ns" sysctl -qw net.ipv4.ip_forward=1

add_tap "$ns" vt0 10.0.8.1/24
start_skiff guest "$ns" --log-level debug run --kernel "$GUEST" --memory 64 \
    --net "mode=vhost,ifname=vt0,transport=$TRANSPORT" \
    --cmdline "ip=10.0.8.2::10.0.8.1:255.255.255.0" --timeout 300
wait_console guest '^skiff-testguest: network ready' 60
grep -q "^skiff-testguest: net0 $TRANSPORT " "$TEST_TMP/guest.out" || fail "the guest did not find net0 over $TRANSPORT"
grep -q "net0: vhost-net activated" "$TEST_TMP/guest.err" || { show_skiff guest; fail "no vhost activation logged"; }

ping_ok "$ns" 10.0.8.2 20 56
ping_ok "$ns" 10.0.8.2 5 1472
udp_echo_ok "$ns" 10.0.8.2
# From the other namespace, routed: the guest's gateway is 10.0.8.1.
ping_ok "$client" 10.0.8.2 20 56
ping_ok "$client" 10.0.8.2 5 1472
udp_echo_ok "$client" 10.0.8.2
# The kernel's worker for skiff's vhost device: "vhost-PID" (a kernel
# thread before Linux 6.4, a thread of skiff's from then on).
worker=$(ps -e -L -o comm= | grep -c "^vhost-$skiff_pid" || true)
echo "  vhost worker threads for skiff (pid $skiff_pid): $worker"
[ "$worker" -ge 1 ] || fail "no vhost-$skiff_pid worker: the kernel is not moving the packets"
stop_skiff guest
in_ns "$ns" ip link show vt0 >/dev/null || fail "the persistent vt0 went away with skiff"
echo "PASS: test guest over virtio-$TRANSPORT in mode=vhost: ping and UDP echo, local and routed"
