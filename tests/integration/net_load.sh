#!/usr/bin/env bash
# Sustained load both ways at once, for a bounded time, on the in-process
# data path: the test guest floods UDP datagrams out (testguest.mode=flood,
# a fixed count) while the host sends datagrams in as fast as it can
# (udp_blast, sendmmsg). Then:
#   - nothing the guest handed over is lost inside skiff: the frames skiff
#     wrote to the tap (its rx counters) are exactly the frames the guest
#     transmitted, and the frames skiff read from the tap (tx counters) are
#     exactly the frames the guest received (the guest's own counts, asked
#     for over the console);
#   - skiff's RSS, open fds and threads are the same after as before;
#   - the guest answers ping.
# Figures are printed for the README's reliability section. The tap's own
# tx_dropped (its queue overflowing while the guest had no free buffer) is
# outside skiff and only reported.
# usage: net_load.sh SKIFF TESTGUEST UDP_BLAST [TRANSPORT] [SECONDS]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2 BLAST=$3 TRANSPORT=${4:-mmio} FLOOD_SECONDS=${5:-10}
require_kvm
require_net
[ -x "$BLAST" ] || fail "udp_blast not built: $BLAST"

HOST=10.0.9.1 GUEST_IP=10.0.9.2
ns=$(make_netns load)
add_tap "$ns" tap0 "$HOST/24"

# The console input goes through a FIFO kept open here: a byte on it makes
# the guest print its counters.
mkfifo "$TEST_TMP/console"
exec 5<>"$TEST_TMP/console"
# Enough datagrams for about FLOOD_SECONDS on this host (the guest stops at
# the count; the host blaster stops at the time).
FLOOD_COUNT=${SKIFF_LOAD_FLOOD_COUNT:-$((FLOOD_SECONDS * 40000))}
cmdline="ip=$GUEST_IP::$HOST:255.255.255.0 testguest.mode=flood testguest.flood_dst=$HOST:9"
cmdline+=" testguest.flood_size=1472 testguest.flood_count=$FLOOD_COUNT testguest.report_every=1000000000"
ip netns exec "$ns" "$SKIFF" run --kernel "$GUEST" --memory 64 --net "mode=tap,ifname=tap0,transport=$TRANSPORT" \
    --cmdline "$cmdline" --timeout 600 <"$TEST_TMP/console" >"$TEST_TMP/load.out" 2>"$TEST_TMP/load.err" &
skiff_pid=$!
cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
echo "--- skiff (pid $skiff_pid) floods $FLOOD_COUNT datagrams out, host blasts in for $FLOOD_SECONDS s, $TRANSPORT"
wait_console load '^skiff-testguest: network ready' 60

status_kib() { awk -v key="$1:" '$1 == key { print $2 }' "/proc/$skiff_pid/status"; }
fd_count() { find "/proc/$skiff_pid/fd" -mindepth 1 -maxdepth 1 | wc -l; }
thread_count() { find "/proc/$skiff_pid/task" -mindepth 1 -maxdepth 1 | wc -l; }
tap_counter() { in_ns "$ns" cat "/sys/class/net/tap0/statistics/$1"; }

rss_before=$(status_kib VmRSS) fds_before=$(fd_count) threads_before=$(thread_count)

start=$SECONDS
in_ns "$ns" "$BLAST" "$GUEST_IP" 9 1472 "$FLOOD_SECONDS" >"$TEST_TMP/blast.out" &
blast_pid=$!
cleanup_hooks+=("kill $blast_pid 2>/dev/null")
rss_peak=$rss_before
while kill -0 "$blast_pid" 2>/dev/null || ! grep -q '^skiff-testguest: flood done' "$TEST_TMP/load.out"; do
    kill -0 "$skiff_pid" 2>/dev/null || { show_skiff load; fail "skiff died under load"; }
    [ $((SECONDS - start)) -lt $((FLOOD_SECONDS * 6 + 60)) ] || { show_skiff load; fail "the flood did not end"; }
    rss=$(status_kib VmRSS)
    [ "$rss" -le "$rss_peak" ] || rss_peak=$rss
    sleep 0.5
done
wait "$blast_pid"
elapsed=$((SECONDS - start))
read -r host_sent blast_seconds <"$TEST_TMP/blast.out"

# The guest's counters (one byte on the console makes it print them),
# asked for until they match the tap's: a frame skiff has taken from the
# tap may still be on its way into the guest (under TCG in an L1 VM with
# one CPU, skiff's I/O thread can wait a second or more for it).
counter_lines() { grep -c '^skiff-testguest: net0 rx=.* tx=' "$TEST_TMP/load.out" || true; }
ask_counters() {
    local before deadline=$((SECONDS + 30))
    before=$(counter_lines)
    printf '\n' >&5
    until [ "$(counter_lines)" -gt "$before" ]; do
        kill -0 "$skiff_pid" 2>/dev/null || { show_skiff load; fail "skiff died before the guest's counters"; }
        [ $SECONDS -lt $deadline ] || { show_skiff load; fail "the guest did not print its counters"; }
        sleep 0.2
    done
    counters=$(grep '^skiff-testguest: net0 rx=' "$TEST_TMP/load.out" | tail -n 1)
}
field() { echo "$counters" | sed -n "s/.* $1=\([0-9]*\).*/\1/p"; }
for asked in 1 2 3 4 5 6 7 8 9 10; do
    sleep 1
    ask_counters
    guest_rx=$(field rx) guest_tx=$(field tx)
    tap_rx=$(tap_counter rx_packets) tap_tx=$(tap_counter tx_packets)
    [ "$tap_rx" -ne "$guest_tx" ] || [ "$tap_tx" -ne "$guest_rx" ] || break
done
flood_sent=$(sed -n 's/^skiff-testguest: flood done sent=\([0-9]*\).*/\1/p' "$TEST_TMP/load.out")

tap_rx_dropped=$(tap_counter rx_dropped) tap_tx_dropped=$(tap_counter tx_dropped)
rss_after=$(status_kib VmRSS) fds_after=$(fd_count) threads_after=$(thread_count)

echo "figures ($TRANSPORT, ${elapsed} s; the guest asked for its counters $asked time(s)):"
echo "  guest -> host: guest sent $guest_tx frames ($flood_sent flood datagrams); the tap got $tap_rx (rx_dropped $tap_rx_dropped)"
echo "  host -> guest: host sent $host_sent datagrams in $blast_seconds s; skiff read $tap_tx from the tap, the guest received $guest_rx; the tap's queue dropped $tap_tx_dropped while the guest had no free buffer"
echo "  skiff RSS: $rss_before KiB before, $rss_peak KiB peak, $rss_after KiB after; fds $fds_before -> $fds_after; threads $threads_before -> $threads_after"

[ "$flood_sent" = "$FLOOD_COUNT" ] || fail "the guest's flood ended at ${flood_sent:-?}, not $FLOOD_COUNT"
[ "$tap_rx" -eq "$guest_tx" ] || fail "the guest transmitted $guest_tx frames, skiff wrote $tap_rx to the tap"
[ "$tap_rx_dropped" -eq 0 ] || fail "the tap dropped $tap_rx_dropped frames skiff wrote"
[ "$tap_tx" -eq "$guest_rx" ] || fail "skiff read $tap_tx frames from the tap, the guest received $guest_rx"
[ "$guest_rx" -gt 1000 ] || fail "the guest received only $guest_rx frames: the host's flood did not reach it"
# Flat: at most 1 MiB more than before the load (allocator noise), and no
# fd or thread more. Under ASan freed memory stays resident in its
# quarantine (up to 256 MiB), so RSS says nothing about skiff there.
if [ "${SKIFF_SANITIZED:-0}" = 1 ]; then
    echo "  RSS not checked: skiff runs under ASan, whose quarantine keeps freed memory resident"
else
    [ "$rss_after" -le $((rss_before + 1024)) ] || fail "skiff's RSS grew from $rss_before to $rss_after KiB"
    [ "$rss_peak" -le $((rss_before + 1024)) ] || fail "skiff's RSS peaked at $rss_peak KiB (from $rss_before)"
fi
[ "$fds_after" -eq "$fds_before" ] || fail "skiff has $fds_after fds open after the load, $fds_before before"
[ "$threads_after" -eq "$threads_before" ] || fail "skiff has $threads_after threads after the load, $threads_before before"
if grep -E -q 'dropped|error' "$TEST_TMP/load.err"; then
    sed 's/^/  err| /' "$TEST_TMP/load.err" | tail -n 20
    fail "skiff logged drops or errors under load"
fi

ping_ok "$ns" "$GUEST_IP" 10 56
stop_skiff load
echo "PASS: both directions at full rate, nothing lost inside skiff, RSS/fds/threads flat, ping after"
