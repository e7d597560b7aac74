#!/usr/bin/env bash
# A hostile guest (testguest.mode=hostile) attacks net0 over TARGET (mmio
# or pci) - garbage rings and descriptors, impossible queues, unoffered
# features, random register, device-configuration and (pci) PCI
# configuration-space writes, notification floods - while net1 (pci)
# serves. While the attack runs net1 keeps answering ping; afterwards the
# guest resets net0 and both answer; skiff is still running, logged little
# (each message within its rate limit) and exits 0 on SIGTERM.
# usage: hostile_guest.sh SKIFF TESTGUEST TARGET [ROUNDS] [SEED]
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF=$1 GUEST=$2 TARGET=$3 ROUNDS=${4:-10} SEED=${5:-$RANDOM}
# skiff's rate limit (vmm/log_limit.h): each call site logs a burst of
# LOG_BURST, then one message per LOG_REFILL_SECONDS.
LOG_BURST=5
LOG_REFILL_SECONDS=10
MAX_LOSS_PERCENT=20
require_kvm
require_net
command -v ping >/dev/null || skip "ping not found"

ns=$(make_netns a)
add_tap "$ns" sktap0 10.0.1.1/24
add_tap "$ns" sktap1 10.0.2.1/24
# Default log level: what an operator would keep on disk.
start_skiff guest "$ns" run --kernel "$GUEST" --memory 64 \
    --net "mode=tap,ifname=sktap0,transport=$TARGET" \
    --net mode=tap,ifname=sktap1,transport=pci \
    --cmdline "ip=10.0.1.2::10.0.1.1:255.255.255.0 ip=10.0.2.2::10.0.2.1:255.255.255.0 testguest.mode=hostile testguest.hostile_rounds=$ROUNDS testguest.seed=$SEED" \
    --timeout 900
run_started=$SECONDS
wait_console guest '^skiff-testguest: network ready' 60
grep -q "^skiff-testguest: net0 $TARGET " "$TEST_TMP/guest.out" || fail "net0 is not over $TARGET"
grep -q '^skiff-testguest: net1 pci ' "$TEST_TMP/guest.out" || fail "net1 is not over pci"
wait_console guest '^skiff-testguest: hostile start' 30
echo "  attack on net0 ($TARGET), seed $SEED, $ROUNDS rounds"

# net1 answers throughout: pings every 0.1 s, in batches of 10 (a
# background ping ignores SIGINT, so it could not be asked for its
# summary), until the attack is over.
pinger() {
    while [ ! -e "$TEST_TMP/attack.over" ]; do
        in_ns "$ns" ping -n -q -c 10 -i 0.1 -W 1 10.0.2.2 2>&1 | grep 'packets transmitted' || true
    done
}
pinger >"$TEST_TMP/ping.out" &
pinger_pid=$!
cleanup_hooks+=("kill $pinger_pid 2>/dev/null")
started=$SECONDS
wait_console guest '^skiff-testguest: hostile done' 600
attack_seconds=$((SECONDS - started))
touch "$TEST_TMP/attack.over"
wait "$pinger_pid" || true
transmitted=$(awk '{sum += $1} END {print sum + 0}' "$TEST_TMP/ping.out")
received=$(awk '{sum += $4} END {print sum + 0}' "$TEST_TMP/ping.out")
[ "$transmitted" -gt 0 ] || fail "no ping sent during the attack"
loss=$(( (transmitted - received) * 100 / transmitted ))

done_line=$(grep '^skiff-testguest: hostile done' "$TEST_TMP/guest.out")
figure() { echo "$done_line" | grep -o " $1=[0-9]*" | cut -d= -f2; }
echo "  attack: ${attack_seconds} s, $(figure rounds) rounds, $(figure operations) operations" \
     "($(figure register_accesses) register accesses, $(figure config_writes) device-configuration writes," \
     "$(figure pci_config_writes) PCI configuration writes, $(figure ring_attacks) garbage rings)," \
     "$(figure notifications) notifications"
echo "  net1 during the attack: $received of $transmitted pings answered (${loss}% lost)," \
     "$(figure net1_echo_replies) echo replies counted by the guest"
[ "$received" -gt 0 ] || fail "net1 answered no ping during the attack"
[ "$loss" -le "$MAX_LOSS_PERCENT" ] || fail "net1 lost ${loss}% of pings during the attack (at most $MAX_LOSS_PERCENT%)"

wait_console guest '^skiff-testguest: hostile net0 (restarted|restart failed)' 30
grep -q '^skiff-testguest: hostile net0 restarted' "$TEST_TMP/guest.out" ||
    fail "net0 did not restart: $(grep 'hostile net0' "$TEST_TMP/guest.out")"
kill -0 "$skiff_pid" 2>/dev/null || fail "skiff is gone after the attack"
ping_ok "$ns" 10.0.1.2 10 56
ping_ok "$ns" 10.0.2.2 10 56
ping_ok "$ns" 10.0.1.2 3 1472

log_lines=$(wc -l <"$TEST_TMP/guest.err")
log_bytes=$(wc -c <"$TEST_TMP/guest.err")
stop_skiff guest
run_seconds=$((SECONDS - run_started))
echo "  skiff's log for the whole run of ${run_seconds} s (default level): $log_lines lines, $log_bytes bytes"
# One template per call site: the time stamp, the suppressed count and
# every number left out. A site may log its burst plus one message per
# refill period of the run (+1: a refill just before the start).
sed -E 's/^\[[^]]*\] //; s/ \([0-9]+ similar messages suppressed\)$//;
        s/0x[0-9a-f]+/H/g; s/[0-9]+/N/g' "$TEST_TMP/guest.err" |
    sort | uniq -c | sort -rn >"$TEST_TMP/log-sites.txt"
per_site=$((LOG_BURST + run_seconds / LOG_REFILL_SECONDS + 1))
echo "  most frequent messages (at most $per_site each over ${run_seconds} s):"
awk 'NR <= 8 {print "    " $0}' "$TEST_TMP/log-sites.txt"
read -r top_count top_text <"$TEST_TMP/log-sites.txt" || top_count=0
[ "${top_count:-0}" -le "$per_site" ] ||
    fail "one message was logged $top_count times in ${run_seconds} s (the rate limit allows $per_site): $top_text"
echo "PASS: hostile guest on net0 ($TARGET): net1 served throughout, both NICs answer afterwards, log bounded"
