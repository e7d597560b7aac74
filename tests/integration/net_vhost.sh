#!/usr/bin/env bash
# The test guest on one virtio-net interface over TRANSPORT (mmio or pci)
# in mode=vhost: the kernel's vhost-net worker moves the packets between
# the guest's rings and a persistent tap in a namespace of its own.
# Ping of small and MTU-sized packets with nothing lost and UDP echo of
# many sizes with content checked, from a second namespace routed through
# the first; SIGTERM ends skiff with status 0 and the (persistent) tap stays.
# The VM comes from a config file (the CLI's --net mode=vhost is what
# linux_net_vhost uses), so that it has a metrics file: its last line must
# show the traffic (counted by the kernel, read through the tap's sysfs
# statistics), rx the guest's receive side: 100 datagrams the guest does
# not answer make rx exceed tx, and both equal the tap's own counters.
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
cat >"$TEST_TMP/vm.json" <<JSON
{
  "boot-source": {"kernel_image_path": "$GUEST", "boot_args": "ip=10.0.8.2::10.0.8.1:255.255.255.0"},
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64},
  "network-interfaces": [{"iface_id": "net0", "host_dev_name": "vt0", "mode": "vhost", "transport": "$TRANSPORT"}],
  "metrics": {"metrics_path": "$TEST_TMP/metrics.json"}
}
JSON
# The tap's own counters (ip netns exec mounts the namespace's sysfs).
tap_count() { in_ns "$ns" cat "/sys/class/net/vt0/statistics/$1"; }
tap_tx_before=$(tap_count tx_packets) tap_rx_before=$(tap_count rx_packets)
start_skiff guest "$ns" --level Debug --no-api --config-file "$TEST_TMP/vm.json"
wait_console guest '^skiff-testguest: network ready' 60
grep -q "^skiff-testguest: net0 $TRANSPORT " "$TEST_TMP/guest.out" || fail "the guest did not find net0 over $TRANSPORT"
grep -q "net0: vhost-net activated" "$TEST_TMP/guest.err" || { show_skiff guest; fail "no vhost activation logged"; }
if grep -q "packet counters will read zero" "$TEST_TMP/guest.err"; then
    show_skiff guest
    fail "skiff cannot read vt0's counters"
fi

in_ns "$ns" python3 "$PROBE" udp-send 10.0.8.2 9 100 200 || fail "udp-send"  # nothing comes back
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
# The last metrics line (written at exit): the guest's rx is the tap's tx.
tail -n 1 "$TEST_TMP/metrics.json" | python3 -c '
import json, sys
tap_rx, tap_tx = int(sys.argv[1]), int(sys.argv[2])
net0 = json.loads(sys.stdin.read())["net_net0"]
print("  metrics: net_net0", net0, "; tap vt0: rx", tap_rx, "tx", tap_tx)
rx, tx = net0["rx_packets_count"], net0["tx_packets_count"]
assert rx >= 100 + 50 and tx >= 50, "too few packets counted"
assert rx - tx >= 100, "rx and tx swapped? the 100 unanswered datagrams are not in rx"
assert net0["rx_bytes_count"] >= 100 * (14 + 20 + 8 + 200), "rx bytes"
assert abs(rx - tap_tx) <= 2 and abs(tx - tap_rx) <= 2, "not the tap counters"
assert net0["rx_rate_limiter_throttled"] == 0 and net0["tx_rate_limiter_throttled"] == 0
' "$(($(tap_count rx_packets) - tap_rx_before))" "$(($(tap_count tx_packets) - tap_tx_before))" \
    || fail "the metrics do not show the vhost interface's traffic"
echo "PASS: test guest over virtio-$TRANSPORT in mode=vhost: ping and UDP echo, local and routed; metrics counted"
