#!/usr/bin/env bash
# The test guest on a macvtap (bridge mode) that skiff creates itself on
# one end of a veth pair, over TRANSPORT (mmio or pci): from the namespace
# of the other end, ping of small and MTU-sized packets with nothing lost
# and UDP echo of many sizes with content checked. The macvtap is gone
# after skiff exits on SIGTERM (status 0), and also after skiff dies of
# CRASH_SIGNAL (ABRT or SEGV) sent from outside: once to the process (the
# main thread, unfiltered, takes it), once to a vCPU thread with tgkill (it
# runs under its seccomp filter, and device emulation runs there: the
# likeliest place for a real crash). After SIGKILL the macvtap is left, and
# the next skiff deletes it (its owner tag names a pid that no longer
# runs). VHOST on: the kernel's vhost_net moves
# the packets between the rings and the macvtap's /dev/tapN.
# usage: net_macvtap.sh SKIFF TESTGUEST TRANSPORT CRASH_SIGNAL [VHOST]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2 TRANSPORT=$3 CRASH_SIGNAL=$4 VHOST=${5:-off}
require_kvm
require_net
if [ "$VHOST" = on ]; then
    [ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
    [ -c /dev/vhost-net ] || skip "no /dev/vhost-net (modprobe vhost_net)"
fi

vm_ns=$(make_netns vm)      # skiff and its macvtap on vethA
peer_ns=$(make_netns peer)  # vethB with the guest's neighbour 10.0.7.1
in_ns "$vm_ns" ip link add vethA type veth peer name vethB
in_ns "$vm_ns" ip link set vethB netns "$peer_ns"
in_ns "$vm_ns" ip link set vethA up
in_ns "$peer_ns" ip addr add 10.0.7.1/24 dev vethB
in_ns "$peer_ns" ip link set vethB up

macvtaps() { in_ns "$vm_ns" ip -o link show type macvtap | awk -F': ' '{print $2}' | sed 's/@.*//'; }

boot() {
    start_skiff "$1" "$vm_ns" --log-level debug run --kernel "$GUEST" --memory 64 \
        --net "mode=macvtap,link=vethA,transport=$TRANSPORT,vhost=$VHOST" \
        --cmdline "ip=10.0.7.2::10.0.7.1:255.255.255.0" --timeout 300
    wait_console "$1" '^skiff-testguest: network ready' 60
    grep -q "^skiff-testguest: net0 $TRANSPORT " "$TEST_TMP/$1.out" || fail "the guest did not find net0 over $TRANSPORT"
    local name
    name=$(macvtaps)
    [ -n "$name" ] || fail "no macvtap in skiff's namespace while it runs"
    echo "  macvtap: $(in_ns "$vm_ns" ip -d -o link show "$name" | grep -o 'link/ether [0-9a-f:]*\|macvtap mode [a-z]*' | tr '\n' ' ')"
}

boot guest
ping_ok "$peer_ns" 10.0.7.2 20 56
ping_ok "$peer_ns" 10.0.7.2 5 1472
udp_echo_ok "$peer_ns" 10.0.7.2
stop_skiff guest
if [ "$VHOST" = on ]; then
    grep -q "net0: vhost-net activated" "$TEST_TMP/guest.err" || fail "no vhost activation logged"
else
    grep -q "net0: activated" "$TEST_TMP/guest.err" || fail "no activation logged"
fi
grep -q "macvtap '.*' (/dev/tap[0-9]*): created" "$TEST_TMP/guest.err" || fail "skiff did not log the macvtap it created"
[ -z "$(macvtaps)" ] || fail "macvtap $(macvtaps) left behind after SIGTERM"
echo "  SIGTERM: exit 0, macvtap deleted"

# The second skiff's guest has another default MAC (it derives from skiff's
# pid) and the test guest sends no gratuitous ARP: forget the first one's.
in_ns "$peer_ns" ip neigh flush dev vethB
# A sanitized skiff (scripts/test-sanitized.sh) would take the SIGSEGV sent
# below for its own fault, report it and exit 1: let it die of it instead.
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}handle_segv=0"

# crash_and_check NAME WHO: boots, then sends CRASH_SIGNAL to WHO
# ("process": kill(2), or "vCPU thread": tgkill to skiff-vcpu0); skiff must
# die of it and leave no macvtap.
crash_and_check() {
    local name=$1 who=$2 signal_number tid
    signal_number=$(kill -l "$CRASH_SIGNAL")
    boot "$name"
    ping_ok "$peer_ns" 10.0.7.2 5 56
    if [ "$who" = process ]; then
        kill -"$CRASH_SIGNAL" "$skiff_pid"
    else
        tid=$(crash_thread "$skiff_pid" skiff-vcpu0 "$CRASH_SIGNAL")
        who="vCPU thread (skiff-vcpu0, thread $tid, seccomp on)"
    fi
    set +e
    wait "$skiff_pid"
    status=$?
    set -e
    [ "$status" -eq $((128 + signal_number)) ] ||
        { show_skiff "$name"; fail "skiff exited $status after SIG$CRASH_SIGNAL to the $who (expected $((128 + signal_number)))"; }
    [ -z "$(macvtaps)" ] || fail "macvtap $(macvtaps) left behind after SIG$CRASH_SIGNAL to the $who"
    echo "  SIG$CRASH_SIGNAL to the $who: died of it ($status), macvtap deleted"
    # The next skiff's guest has another default MAC (it derives from
    # skiff's pid): forget this one's.
    in_ns "$peer_ns" ip neigh flush dev vethB
}

crash_and_check crash process
crash_and_check vcpu_crash vcpu

# SIGKILL: nothing runs, the macvtap stays, tagged with the dead skiff's
# pid; the next skiff that creates a macvtap deletes it first.
boot killed
killed_pid=$skiff_pid
left=$(macvtaps)
kill -KILL "$skiff_pid"
set +e
wait "$skiff_pid"
set -e
[ "$(macvtaps)" = "$left" ] || fail "after SIGKILL: macvtaps '$(macvtaps)', expected '$left' left behind"
alias=$(in_ns "$vm_ns" ip -d -o link show "$left" | grep -o 'alias skiff pid=[0-9]* start=[0-9]* pidns=[0-9]*' || true)
case "$alias" in "alias skiff pid=$killed_pid "*) ;; *) fail "the macvtap left has no owner tag of pid $killed_pid: '$alias'" ;; esac
boot after_kill
grep -q "macvtap '$left' was left by skiff pid $killed_pid, which no longer runs (killed with SIGKILL?): deleted" \
    "$TEST_TMP/after_kill.err" || { show_skiff after_kill; fail "the next skiff did not delete the macvtap SIGKILL left"; }
[ "$(macvtaps | wc -l)" -eq 1 ] || fail "macvtaps after the next start: $(macvtaps | tr '\n' ' ')"
in_ns "$peer_ns" ip neigh flush dev vethB
ping_ok "$peer_ns" 10.0.7.2 5 56
# A terminal closing on skiff (SIGHUP) is an orderly stop too.
stop_skiff after_kill HUP
[ -z "$(macvtaps)" ] || fail "macvtap $(macvtaps) left behind after SIGHUP"
echo "  SIGKILL: $left left ($alias); the next skiff deleted it and ran"
echo "PASS: test guest over virtio-$TRANSPORT on a macvtap: ping and UDP echo; no macvtap left after SIGTERM, SIGHUP or SIG$CRASH_SIGNAL (to the process, to a vCPU thread); one left by SIGKILL removed by the next skiff"
