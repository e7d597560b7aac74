#!/usr/bin/env bash
# Faults under a running VM, each ending in a defined state with nothing
# left behind (interfaces, sockets; fds and threads of a process that goes
# on are the subject of tests/machine's leak case):
#   1. tap set down, then up again: the VM runs on, and answers ping again;
#   2. tap deleted while the guest floods out: skiff logs the lost link a
#      bounded number of times, keeps the VM running, and SIGTERM ends it
#      with exit 0;
#   3. SIGTERM at 15 moments each from process start through set-up, boot and
#      network start, with a tap skiff creates and with a macvtap skiff
#      creates: exit 0 (or death by SIGTERM before skiff blocked it), the
#      tap or macvtap gone every time;
#   4. API clients that vanish: one mid-request, one right after sending
#      InstanceStart without reading the answer: the VM starts, the API goes
#      on answering, SIGTERM ends skiff with exit 0 and the socket removed.
# usage: net_faults.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net
require_curl
command -v python3 >/dev/null || skip "python3 not found"

HOST=10.0.10.1 GUEST_IP=10.0.10.2
ns=$(make_netns faults)
add_tap "$ns" tap0 "$HOST/24"
ip_arg="ip=$GUEST_IP::$HOST:255.255.255.0"
links() { in_ns "$ns" ip -o link show | awk -F': ' '{print $2}' | sed 's/@.*//' | sort | tr '\n' ' '; }
links_initial=$(links)

echo "== 1. tap down, then up"
start_skiff down "$ns" run --kernel "$GUEST" --memory 64 --net mode=tap,ifname=tap0 --cmdline "$ip_arg" --timeout 300
wait_console down '^skiff-testguest: network ready' 60
ping_ok "$ns" "$GUEST_IP" 5 56
in_ns "$ns" ip link set tap0 down
sleep 2
in_ns "$ns" ping -n -q -c 3 -W 1 "$GUEST_IP" >/dev/null 2>&1 && fail "the guest answered through a tap that is down"
kill -0 "$skiff_pid" || fail "skiff died when its tap went down"
in_ns "$ns" ip link set tap0 up
in_ns "$ns" ip addr replace "$HOST/24" dev tap0
ping_ok "$ns" "$GUEST_IP" 5 56
stop_skiff down
echo "  tap down for 2 s: the VM ran on and answered again when it came back up"

echo "== 2. tap deleted while the guest floods"
cmdline="$ip_arg testguest.mode=flood testguest.flood_dst=$HOST:9 testguest.flood_size=1472 testguest.report_every=1000000000"
start_skiff deleted "$ns" run --kernel "$GUEST" --memory 64 --net mode=tap,ifname=tap0 --cmdline "$cmdline" --timeout 300
wait_console deleted '^skiff-testguest: flood dst=' 60
sleep 1
in_ns "$ns" ip link del tap0
sleep 5
kill -0 "$skiff_pid" || { show_skiff deleted; fail "skiff died when its tap was deleted"; }
log_lines=$(wc -l <"$TEST_TMP/deleted.err")
grep -q "the link is down" "$TEST_TMP/deleted.err" || { show_skiff deleted; fail "skiff did not report the lost link"; }
grep -q "epoll_ctl" "$TEST_TMP/deleted.err" && { show_skiff deleted; fail "skiff went on polling the deleted tap"; }
stop_skiff deleted
[ "$log_lines" -le 40 ] || fail "skiff logged $log_lines lines in 5 s after its tap went away"
echo "  tap deleted under a flooding guest: $log_lines log lines in 5 s, exit 0 on SIGTERM"
add_tap "$ns" tap0 "$HOST/24"

echo "== 3. SIGTERM during set-up and boot"
# A tap skiff creates itself (non-persistent) and a macvtap it creates on a
# veth: both must be gone after every exit.
in_ns "$ns" ip link add vethA type veth peer name vethB
in_ns "$ns" ip link set vethA up
in_ns "$ns" ip link set vethB up
links_before=$(links)
outcomes=""
for kind in tap macvtap; do
    if [ $kind = tap ]; then net="mode=tap,ifname=skt-new"; else net="mode=macvtap,link=vethA"; fi
    for delay in 0 0.002 0.005 0.010 0.020 0.030 0.050 0.080 0.120 0.160 0.200 0.300 0.500 0.800 1.200; do
        ip netns exec "$ns" "$SKIFF" run --kernel "$GUEST" --memory 64 --net "$net" --cmdline "$ip_arg" \
            --timeout 60 >"$TEST_TMP/term.out" 2>"$TEST_TMP/term.err" </dev/null &
        pid=$!
        # From the moment skiff's image runs (not the shell or ip before it).
        # -ef compares the files: the link's text names the path from the
        # mount namespace ip netns exec made, not always ours (a chroot's).
        until [ "/proc/$pid/exe" -ef "$SKIFF" ] || ! kill -0 "$pid" 2>/dev/null; do
            sleep 0.001
        done
        sleep "$delay"
        kill -TERM "$pid" 2>/dev/null || true
        set +e
        wait "$pid"
        code=$?
        set -e
        phase="before the guest ran"
        if grep -q 'network ready' "$TEST_TMP/term.out"; then
            phase="with the guest's network up"
        elif grep -q 'booted' "$TEST_TMP/term.out"; then
            phase="while the guest booted"
        fi
        case $code in
            0) outcome="exit 0, $phase" ;;
            143) outcome="killed by SIGTERM before skiff blocked it" ;;
            *) cat "$TEST_TMP/term.err"; fail "$kind: SIGTERM after $delay s: exit $code" ;;
        esac
        [ "$(links)" = "$links_before" ] || fail "$kind: SIGTERM after $delay s left interfaces: $(links) (before: $links_before)"
        outcomes+="    $kind, SIGTERM after ${delay} s: $outcome"$'\n'
    done
done
printf '%s' "$outcomes"
echo "  every SIGTERM ended skiff in a defined way with nothing left behind"
in_ns "$ns" ip link del vethA

echo "== 4. API clients that vanish"
API_SOCK="$TEST_TMP/api.sock"
start_skiff api "$ns" --api-sock "$API_SOCK"
wait_socket "$API_SOCK" 10
api_expect 204 PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 $ip_arg\"}"
api_expect 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0"}'
python3 - "$API_SOCK" <<'PY'
import socket, sys
# Half a request, then gone.
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
s.sendall(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 40\r\n\r\n{\"vcpu_")
s.close()
# InstanceStart, then gone before the answer.
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1])
body = b'{"action_type": "InstanceStart"}'
s.sendall(b"PUT /actions HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
s.close()
PY
# A request whose client is gone before the answer may or may not have run
# (the HTTP server drops a connection that hung up before it parsed the
# request): either way skiff answers the next client, in a state it says.
api_expect 200 GET /
if echo "$api_body" | grep -q '"state": *"Not started"'; then
    echo "  the vanished client's InstanceStart was dropped with its connection: starting again"
    api_expect 204 PUT /actions '{"action_type": "InstanceStart"}'
else
    echo "$api_body" | grep -q '"state": *"Running"' || fail "unexpected state after the starter vanished: $api_body"
    echo "  the vanished client's InstanceStart ran"
fi
wait_console api '^skiff-testguest: network ready' 60
ping_ok "$ns" "$GUEST_IP" 5 56
stop_skiff api
[ ! -e "$API_SOCK" ] || fail "the API socket is left behind"
echo "  a client gone mid-request and one gone after InstanceStart: the VM runs, the API answers, exit 0, socket removed"

[ "$(links)" = "$links_initial" ] || fail "interfaces at the end: $(links); at the start: $links_initial"
echo "PASS: tap down/up, tap deleted, SIGTERM during boot and vanished API clients all end in a defined state"
