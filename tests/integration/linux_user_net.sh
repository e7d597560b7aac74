#!/usr/bin/env bash
# Real traffic from Linux user space, in a network mode, on two NICs at once:
# Debian's stock kernel (its own virtio modules) with the busybox initramfs,
# driven through its console as a user would. For each NIC the guest
#   - pings the host;
#   - fetches a 20 MB file from busybox httpd in the host's namespace
#     (wget), and its sha256 matches;
#   - receives 20 MB over TCP from the host (nc -l), and its sha256 matches;
#   - has the offloads on that its driver negotiated (the virtio device's
#     feature bits against Debian's ethtool -k): checksum and TSO towards
#     the host always, checksum from the host where negotiated.
# PAIR chooses the two NICs:
#   tap      in-process on taps: net0 over virtio-mmio, net1 over virtio-pci
#            with MTU 9000 (tap and guest)
#   vhost    the kernel's vhost-net on taps: net0 mmio, net1 pci
#   macvtap  macvtaps on the ends of veth pairs (the host side in another
#            namespace): net0 in-process over mmio, net1 vhost=on over pci
# usage: linux_user_net.sh SKIFF tap|vhost|macvtap
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/linux_lib.sh"
SKIFF=$1 PAIR=$2
require_kvm
require_net
BUSYBOX=/bin/busybox
kernel=$(linux_kernel debian)
initramfs=$(linux_initramfs busybox)
[ -x "$BUSYBOX" ] || skip "no $BUSYBOX (busybox-static) for the host's HTTP server"
if [ "$PAIR" != tap ]; then
    [ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
    [ -c /dev/vhost-net ] || skip "no /dev/vhost-net (modprobe vhost_net)"
fi

MAC0=02:00:00:00:09:02 MAC1=02:00:00:00:08:02 MTU1=1500
vm_ns=$(make_netns vm)
case "$PAIR" in
    tap | vhost)
        host_ns=$vm_ns
        add_tap "$vm_ns" tap0 10.0.9.1/24
        add_tap "$vm_ns" tap1 10.0.8.1/24
        if [ "$PAIR" = tap ]; then
            MTU1=9000
            in_ns "$vm_ns" ip link set tap1 mtu "$MTU1"
        fi
        net0="mode=$PAIR,ifname=tap0,transport=mmio,mac=$MAC0"
        net1="mode=$PAIR,ifname=tap1,transport=pci,mac=$MAC1,mtu=$MTU1"
        ;;
    macvtap)
        host_ns=$(make_netns host)
        for i in 0 1; do
            in_ns "$vm_ns" ip link add "vethA$i" type veth peer name "vethB$i"
            in_ns "$vm_ns" ip link set "vethB$i" netns "$host_ns"
            in_ns "$vm_ns" ip link set "vethA$i" up
            in_ns "$host_ns" ip link set "vethB$i" up
        done
        in_ns "$host_ns" ip addr add 10.0.9.1/24 dev vethB0
        in_ns "$host_ns" ip addr add 10.0.8.1/24 dev vethB1
        net0="mode=macvtap,link=vethA0,transport=mmio,mac=$MAC0"
        net1="mode=macvtap,link=vethA1,transport=pci,vhost=on,mac=$MAC1"
        ;;
    *) fail "unknown pair $PAIR" ;;
esac

# The host's side: a 20 MB file over HTTP, and 20 MB sent to the guest's
# port 5001 once it listens (the sender retries until it does).
mkdir -p "$TEST_TMP/www"
head -c $((20 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/www/blob"
sha=$(sha256sum <"$TEST_TMP/www/blob" | cut -d' ' -f1)
# Its output to a file: a server holding the test's stdout would keep ctest
# waiting after the test ended (delete_test_namespaces kills it too).
in_ns "$host_ns" "$BUSYBOX" httpd -f -p 8080 -h "$TEST_TMP/www" >"$TEST_TMP/httpd.log" 2>&1 &
send_blob() {
    in_ns "$host_ns" python3 - "$1" "$TEST_TMP/www/blob" <<'PY'
import socket, sys, time
deadline = time.monotonic() + 600
while True:
    try:
        sock = socket.create_connection((sys.argv[1], 5001), timeout=5)
        break
    except OSError:
        if time.monotonic() > deadline:
            sys.exit("nothing listened on %s:5001" % sys.argv[1])
        time.sleep(0.5)
sock.settimeout(300)  # the guest under TCG can stall for seconds
with open(sys.argv[2], "rb") as blob:
    sock.sendall(blob.read())
sock.close()
PY
}

limit=${SKIFF_LINUX_BOOT_LIMIT:-900}
# One NIC's checks, typed at the prompt. `up MAC ADDRESS MTU` (defined
# first) configures the interface that has MAC, whatever the kernel named it.
nic_steps() {
    local mac=$1 guest=$2 host=$3 mtu=$4 n=$5
    cat <<EOF
send up $mac $guest $mtu
expect 60 up eth[0-9] $guest mtu $mtu
send echo "features $mac \$(cat /sys/class/net/\$(dev_of $mac)/device/features)"; ethtool -k \$(dev_of $mac) | awk -v m=$mac '/^(tx-checksumming|rx-checksumming|tcp-segmentation-offload):/ {print "offload", m, \$1, \$2}'; echo "k=\$(($n * 100))"
expect 60 k=$((n * 100))
send ping -c 3 $host
expect 120 3 packets received
send wget -q -O - http://$host:8080/blob | sha256sum; echo "got=\$(($n * 10))"
expect 600 $sha  -[^0-9]*got=$((n * 10))
send nc -l -p 5001 | sha256sum; echo "recv=\$(($n * 10))"
expect 600 $sha  -[^0-9]*recv=$((n * 10))
EOF
}
{
    cat <<EOF
expect $limit SKIFF-BUSYBOX-READY
expect 120 / #[ ]
send dev_of() { for d in /sys/class/net/eth*; do [ "\$(cat \$d/address)" = "\$1" ] && echo \${d##*/}; done; }
send up() { d=\$(dev_of \$1); ifconfig \$d \$2 netmask 255.255.255.0 mtu \$3 up && echo "up \$d \$2 mtu \$3"; }
EOF
    nic_steps "$MAC0" 10.0.9.2 10.0.9.1 1500 1
    nic_steps "$MAC1" 10.0.8.2 10.0.8.1 "$MTU1" 2
    echo "send poweroff"
    echo "exit 120 0"
} >"$TEST_TMP/steps.txt"
# The senders wait for the guest's listeners, one NIC after the other.
(send_blob 10.0.9.2 && send_blob 10.0.8.2) >"$TEST_TMP/sender.out" 2>&1 &
cleanup_hooks+=("kill $! 2>/dev/null")

echo "--- skiff run --kernel $kernel, busybox, --net $net0 --net $net1"
python3 "$(dirname "$0")/console_session.py" --transcript "$TEST_TMP/console.txt" -- \
    sh -c 'log=$1; shift; exec "$@" 2>"$log"' sh "$TEST_TMP/skiff.err" \
    ip netns exec "$vm_ns" "$SKIFF" run --kernel "$kernel" --initrd "$initramfs" --memory 512 \
    --net "$net0" --net "$net1" --serial stdio --timeout "$((limit + 1800))" \
    --cmdline "console=ttyS0 reboot=k panic=-1" <"$TEST_TMP/steps.txt" || {
    sed 's/^/  err| /' "$TEST_TMP/skiff.err" | tail -n 20
    sed 's/^/  sender| /' "$TEST_TMP/sender.out"
    fail "the console session failed"
}
transcript=$(tr -d '\r' <"$TEST_TMP/console.txt")
echo "$transcript" | grep -E '^up eth|packets received|  -$|^features|^offload' | sed 's/^/  console| /'
# Feature bits (virtio-net): 0 CSUM, 1 GUEST_CSUM, 11 HOST_TSO4.
check_offloads() {
    local mac=$1 bits
    bits=$(echo "$transcript" | sed -n "s/^features $mac \([01]*\)$/\1/p" | tail -n 1)
    [ -n "$bits" ] || fail "no feature bits for $mac"
    offload() { echo "$transcript" | awk -v m="$mac" -v k="$1:" '$1 == "offload" && $2 == m && $3 == k {print $4}' | tail -n 1; }
    [ "${bits:0:1}" = 1 ] || fail "$mac: the driver did not negotiate CSUM"
    [ "${bits:11:1}" = 1 ] || fail "$mac: the driver did not negotiate HOST_TSO4"
    [ "$(offload tx-checksumming)" = on ] || fail "$mac: tx-checksumming is not on in the guest"
    [ "$(offload tcp-segmentation-offload)" = on ] || fail "$mac: TSO is not on in the guest"
    if [ "${bits:1:1}" = 1 ]; then
        [ "$(offload rx-checksumming)" = on ] || fail "$mac: GUEST_CSUM negotiated, rx-checksumming not on"
    fi
    echo "  $mac: CSUM, HOST_TSO4$([ "${bits:1:1}" = 1 ] && echo ", GUEST_CSUM") negotiated and on in the guest"
}
check_offloads "$MAC0"
check_offloads "$MAC1"
echo "PASS: $PAIR pair ($net0; $net1): ping, 20 MB by HTTP and 20 MB by TCP on each NIC, sha256 $sha"
