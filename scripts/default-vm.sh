#!/usr/bin/env bash
# The default microVM with networking (run by scripts/run-default.sh, as
# root, where /dev/kvm works): the embedded test guest with one virtio-net
# interface on a tap skiff creates, inside a network namespace of its own
# (the host's interfaces are not touched). The host side pings the guest
# and sends it a UDP datagram to echo, then stops skiff with SIGTERM.
# SKIFF_KEEP=1 keeps the VM running until Ctrl-C instead.
# usage: default-vm.sh SKIFF [skiff run arguments...]
set -euo pipefail
skiff=$1
shift
ns=skiff-default-$$
work=$(mktemp -d)
pid=
cleanup() {
    [ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
    ip netns del "$ns" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip netns add "$ns"
ip netns exec "$ns" ip link set lo up
echo "default-vm: network namespace $ns; guest 10.0.0.2 on tap0, host side 10.0.0.1"
ip netns exec "$ns" "$skiff" run --cpus 2 --net mode=tap,ifname=tap0 \
    --cmdline "ip=10.0.0.2::10.0.0.1:255.255.255.0" "$@" </dev/null | tee "$work/console" &
pid=$(jobs -p | tail -n 1)
for _ in $(seq 100); do
    grep -q 'network ready' "$work/console" 2>/dev/null && break
    sleep 0.1
done
grep -q 'network ready' "$work/console" || { echo "default-vm: the guest's network did not come up"; exit 1; }
ip netns exec "$ns" ip addr add 10.0.0.1/24 dev tap0
ip netns exec "$ns" ping -c 3 -i 0.2 10.0.0.2
ip netns exec "$ns" python3 -c '
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(3)
s.sendto(b"hello, skiff", ("10.0.0.2", 7))
print("UDP echo from the guest:", s.recvfrom(64)[0].decode())'
if [ "${SKIFF_KEEP:-0}" = 1 ]; then
    echo "default-vm: running until Ctrl-C (ip netns exec $ns ping 10.0.0.2)"
    wait
else
    pkill -TERM -f "^$skiff run --cpus 2 --net mode=tap,ifname=tap0" || true
    wait || true
fi
pid=
echo "default-vm: skiff stopped; namespace $ns removed"
