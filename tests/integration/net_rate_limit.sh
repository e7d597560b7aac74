#!/usr/bin/env bash
# Rate limits on the in-process data path, measured on a tap in a namespace
# of its own with the test guest: guest -> host while the guest floods
# (testguest.mode=flood) with tx-bandwidth, host -> guest while the host
# sends as fast as it can at a guest in sink mode with rx-bandwidth. Each
# limited rate must be near the limit (0.5x..1.5x) and the same path
# without a limit far above it (> 3x): a functional check, not a benchmark.
# The rates are Ethernet bytes per second as the tap counts them (frames
# skiff wrote to it / read from it), what the limiter charges.
# usage: net_rate_limit.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net
command -v python3 >/dev/null || skip "python3 not found"

LIMIT=1000000               # bytes per second...
BUCKET="100000:100"         # ...as 100 kB per 100 ms
WARMUP=1.5 WINDOW=3
HOST=10.0.8.1 GUEST_IP=10.0.8.2

ns=$(make_netns rl)
add_tap "$ns" tap0 "$HOST/24"

# measure FIELD: tap0's rx (frames from the guest) or tx (frames skiff read
# for the guest) rate in bytes per second (net_lib.sh).
measure() { link_rate "$ns" tap0 "$1" "$WARMUP" "$WINDOW"; }

# boot NAME MODE NET_EXTRA: the guest in MODE with --net mode=tap,...NET_EXTRA.
boot() {
    local name=$1 mode=$2 extra=$3 cmdline="ip=$GUEST_IP::$HOST:255.255.255.0 testguest.mode=$2"
    if [ "$mode" = flood ]; then
        cmdline+=" testguest.flood_dst=$HOST:9 testguest.flood_size=1472 testguest.report_every=1000000000"
    fi
    start_skiff "$name" "$ns" --log-level info run --kernel "$GUEST" --memory 64 \
        --net "mode=tap,ifname=tap0$extra" --cmdline "$cmdline" --timeout 300
    if [ "$mode" = flood ]; then
        wait_console "$name" '^skiff-testguest: flood dst=' 60
    else
        wait_console "$name" '^skiff-testguest: network ready' 60
    fi
}

# Host -> guest: 1472-byte datagrams to the discard port as fast as Python
# sends them, for SECONDS (far above LIMIT: the tap's queue overflows).
blast() {
    in_ns "$ns" python3 - "$GUEST_IP" "$1" <<'PY' &
import socket, sys, time
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
payload, end = bytes(1472), time.monotonic() + float(sys.argv[2])
while time.monotonic() < end:
    try:
        for _ in range(64):
            sock.sendto(payload, (sys.argv[1], 9))
    except OSError:
        pass  # ENOBUFS from the full queue: go on
PY
    blast_pid=$!
    cleanup_hooks+=("kill $blast_pid 2>/dev/null")
}

# Long enough for the slowest start; stopped once measured.
seconds=60

boot tx_limited flood ",tx-bandwidth=$BUCKET"
tx_limited=$(measure rx)
stop_skiff tx_limited
boot tx_free flood ""
tx_free=$(measure rx)
stop_skiff tx_free

boot rx_limited sink ",rx-bandwidth=$BUCKET"
in_ns "$ns" ping -q -c 2 -W 5 "$GUEST_IP" >/dev/null || true  # ARP first
blast "$seconds"
rx_limited=$(measure tx)
kill "$blast_pid" 2>/dev/null; wait "$blast_pid" || true
stop_skiff rx_limited
boot rx_free sink ""
in_ns "$ns" ping -q -c 2 -W 5 "$GUEST_IP" >/dev/null || true
blast "$seconds"
rx_free=$(measure tx)
kill "$blast_pid" 2>/dev/null; wait "$blast_pid" || true
stop_skiff rx_free

report() { printf '  %-30s %9d B/s  (%.2fx the limit)\n' "$1" "$2" "$(python3 -c "print($2 / $LIMIT)")"; }
echo "limit: $LIMIT B/s (bucket $BUCKET)"
report "guest -> host, tx-bandwidth" "$tx_limited"
report "guest -> host, no limit" "$tx_free"
report "host -> guest, rx-bandwidth" "$rx_limited"
report "host -> guest, no limit" "$rx_free"

within() { [ "$1" -ge $((LIMIT / 2)) ] && [ "$1" -le $((LIMIT * 3 / 2)) ]; }
within "$tx_limited" || fail "guest -> host with tx-bandwidth: $tx_limited B/s, not within 0.5x..1.5x of $LIMIT"
within "$rx_limited" || fail "host -> guest with rx-bandwidth: $rx_limited B/s, not within 0.5x..1.5x of $LIMIT"
[ "$tx_free" -gt $((LIMIT * 3)) ] || fail "guest -> host without a limit: only $tx_free B/s (> 3x $LIMIT expected)"
[ "$rx_free" -gt $((LIMIT * 3)) ] || fail "host -> guest without a limit: only $rx_free B/s (> 3x $LIMIT expected)"
if grep -q "dropped" "$TEST_TMP"/tx_limited.err "$TEST_TMP"/rx_limited.err; then
    fail "skiff logged dropped frames under a limit"
fi
echo "PASS: rate limits hold both directions near the limit; without them the rates are far above"
