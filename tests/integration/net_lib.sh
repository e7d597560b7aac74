# Helpers for skiff's network integration tests (sourced after lib.sh).
# Every test works in network namespaces of its own, removed on every exit
# path, with skiff itself running inside one; the host's own interfaces
# are never touched.
NETNS_PREFIX="skiff-t$$"

# Removes every namespace this test made. Registered once here, not in
# make_netns: tests call make_netns in a command substitution ($(...)), a
# subshell whose additions to cleanup_hooks never reach the exit trap.
# Processes still running in them go first: a server started in the
# background holds the test's output open, and ctest waits for that.
delete_test_namespaces() {
    local name
    for name in $(ip netns list 2>/dev/null | awk '{print $1}'); do
        case $name in
            "$NETNS_PREFIX"-*)
                ip netns pids "$name" 2>/dev/null | xargs -r kill -9 2>/dev/null || true
                ip netns del "$name" 2>/dev/null || true
                ;;
        esac
    done
}
cleanup_hooks+=(delete_test_namespaces)

require_net() {
    [ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, taps)"
    [ -c /dev/net/tun ] || skip "no /dev/net/tun"
    command -v ip >/dev/null || skip "ip (iproute2) not found"
    command -v ping >/dev/null || skip "ping not found"
}

# make_netns SUFFIX: creates namespace $NETNS_PREFIX-SUFFIX (lo up, no
# IPv6 chatter) and prints its name.
make_netns() {
    local name="$NETNS_PREFIX-$1"
    ip netns add "$name"
    ip netns exec "$name" ip link set lo up
    ip netns exec "$name" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
    echo "$name"
}

in_ns() { local ns=$1; shift; ip netns exec "$ns" "$@"; }

# add_tap NS NAME ADDRESS/PREFIX: a persistent tap with a host address.
add_tap() {
    in_ns "$1" ip tuntap add dev "$2" mode tap
    in_ns "$1" ip addr add "$3" dev "$2"
    in_ns "$1" ip link set "$2" up
}

# start_skiff NAME NS ARGS...: skiff in the background inside NS; console
# in $TEST_TMP/NAME.out, log in $TEST_TMP/NAME.err, pid in $skiff_pid.
start_skiff() {
    local name=$1 ns=$2; shift 2
    ip netns exec "$ns" "$SKIFF" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null &
    skiff_pid=$!
    cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
    echo "--- skiff $* (pid $skiff_pid, netns $ns)"
}

show_skiff() {
    sed 's/^/  out| /' "$TEST_TMP/$1.out" | tail -n 30
    sed 's/^/  err| /' "$TEST_TMP/$1.err" | tail -n 30
}

# wait_console NAME REGEX SECONDS
wait_console() {
    local deadline=$((SECONDS + $3))
    until grep -E -q -- "$2" "$TEST_TMP/$1.out"; do
        if ! kill -0 "$skiff_pid" 2>/dev/null; then
            show_skiff "$1"
            fail "skiff exited before the console showed /$2/"
        fi
        if [ $SECONDS -ge $deadline ]; then
            show_skiff "$1"
            fail "no /$2/ on the console within $3 s"
        fi
        sleep 0.2
    done
}

# stop_skiff NAME [SIGNAL]: SIGTERM (or SIGNAL: HUP, INT, QUIT), and skiff
# must exit 0 within 20 s.
stop_skiff() {
    kill -"${2:-TERM}" "$skiff_pid"
    local waited=0
    while kill -0 "$skiff_pid" 2>/dev/null && [ $waited -lt 100 ]; do
        sleep 0.2
        waited=$((waited + 1))
    done
    if kill -0 "$skiff_pid" 2>/dev/null; then
        # Hung: show where each thread is, then make sure it goes.
        show_skiff "$1"
        for task in /proc/"$skiff_pid"/task/*; do
            echo "  thread ${task##*/} ($(cat "$task/comm" 2>/dev/null)): $(cat "$task/wchan" 2>/dev/null)"
        done
        if command -v gdb >/dev/null; then
            timeout 60 gdb -batch -p "$skiff_pid" -ex "thread apply all bt" 2>/dev/null | grep -E '^#|^Thread' | head -n 60
        fi
        kill -9 "$skiff_pid"
        wait "$skiff_pid" 2>/dev/null || true
        fail "skiff did not exit within 20 s of SIG${2:-TERM}"
    fi
    set +e
    wait "$skiff_pid"
    status=$?
    set -e
    show_skiff "$1"
    [ "$status" -eq 0 ] || fail "skiff exited $status after SIG${2:-TERM} (expected 0)"
}

# crash_thread PID NAME SIGNAL: sends SIGNAL (ABRT, SEGV, ...) to skiff's
# thread NAME (its comm: skiff-vcpu0, skiff-api, ...) with tgkill, so that
# this thread takes it (kill(2) is for the process: the main thread would),
# after checking its seccomp filter is on. Prints the thread id.
crash_thread() {
    local pid=$1 name=$2 tid="" task
    for task in /proc/"$pid"/task/*; do
        [ "$(cat "$task/comm" 2>/dev/null)" = "$name" ] && tid=${task##*/}
    done
    [ -n "$tid" ] || fail "no thread named $name in skiff $pid"
    [ "$(awk '/^Seccomp:/ {print $2}' /proc/"$pid"/task/"$tid"/status)" = 2 ] ||
        fail "thread $name ($tid) has no seccomp filter"
    python3 -c 'import ctypes, sys
libc = ctypes.CDLL(None, use_errno=True)
SYS_tgkill = 234  # x86_64
pid, tid, sig = (int(arg) for arg in sys.argv[1:])
sys.exit(0 if libc.syscall(SYS_tgkill, pid, tid, sig) == 0 else ctypes.get_errno())' \
        "$pid" "$tid" "$(kill -l "$3")" || fail "tgkill($pid, $tid, SIG$3) failed"
    echo "$tid"
}

# ping_ok NS ADDRESS COUNT SIZE: COUNT echoes answered, none lost.
# A nested guest under TCG can stall for a second or more, and ping's own
# count (-c alone) calls every reply later than twice the slowest RTT lost.
# So ping runs until COUNT replies came (-w: it sends more meanwhile), and
# a lost packet is a sequence number below the highest answered one that
# never got its reply.
ping_ok() {
    local result seqs highest answered
    # ARP asks for 30 s before it gives up (default: 3 s), for the same
    # reason: a failed neighbour ends ping at once.
    in_ns "$1" sh -c 'for f in /proc/sys/net/ipv4/neigh/*/mcast_solicit; do echo 30 >"$f"; done'
    result=$(in_ns "$1" ping -n -c "$3" -i 0.05 -w 60 -s "$4" "$2" 2>&1) || true
    seqs=$(echo "$result" | grep -v 'DUP!' | grep -o 'bytes from .* icmp_seq=[0-9]*' | sed 's/.*=//' | sort -n -u)
    answered=$(echo "$seqs" | grep -c . || true)
    highest=$(echo "$seqs" | tail -n 1)
    echo "  ping $2 -c $3 -s $4: $answered answered, ${highest:-0} sent before the last reply$(echo "$result" | grep -o ', time.*\|rtt .*' | tail -n 1 | sed 's/^/; /')"
    if [ "$answered" -lt "$3" ] || [ "$answered" -ne "${highest:-0}" ]; then
        { grep -h -E 'warn|error|dropped' "$TEST_TMP"/*.err 2>/dev/null || true; } | sed 's/^/  skiff| /' | tail -n 20
        in_ns "$1" ip -s link 2>/dev/null | sed 's/^/  host| /' | tail -n 30 || true
        fail "ping $2 -s $4: $answered of $3 echoes answered within 60 s, highest sequence answered ${highest:-none}: $result"
    fi
}

# udp_echo_ok NS ADDRESS [LARGEST]: datagrams of many sizes echoed intact.
udp_echo_ok() {
    in_ns "$1" python3 "$PROBE" udp-echo "$2" "${3:-1472}" || fail "UDP echo from $2"
}
PROBE="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/guest-images/testguest/qemu-check/net_probe.py"

# link_rate NS LINK FIELD WARMUP WINDOW: LINK's receive (rx) or transmit (tx)
# rate in bytes per second. It waits for traffic to flow (a sender in a
# slow VM may take seconds to start), then WARMUP seconds (a rate limiter's
# bucket starts full), then counts over WINDOW seconds. One shell in the
# namespace reads the counters and the clock with builtins, so the window
# is the time actually measured, not a sleep plus the start-up of the
# processes that read the counters.
link_rate() {
    in_ns "$1" bash -c '
        link=$1: field=$2 warmup=$3 window=$4
        read_bytes() {
            local name rx tx
            bytes=0
            while read -r name rx _ _ _ _ _ _ _ tx _; do
                if [ "$name" = "$link" ]; then
                    if [ "$field" = rx ]; then bytes=$rx; else bytes=$tx; fi
                fi
            done </proc/net/dev
        }
        read_bytes
        first=$bytes
        for _ in $(seq 300); do
            read_bytes
            [ "$bytes" -gt $((first + 10000)) ] && break
            sleep 0.1
        done
        sleep "$warmup"
        read_bytes; before=$bytes start=$EPOCHREALTIME
        sleep "$window"
        read_bytes; after=$bytes end=$EPOCHREALTIME
        awk -v b=$((after - before)) -v s="$start" -v e="$end" "BEGIN { printf \"%d\\n\", b / (e - s) }"
    ' link_rate "$2" "$3" "$4" "$5"
}
