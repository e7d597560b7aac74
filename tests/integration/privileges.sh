#!/usr/bin/env bash
# --uid/--gid/--chroot, and skiff without any privilege, in namespaces of
# its own:
#  1. as root with --uid/--gid 65534 and --chroot into an empty directory:
#     a tap skiff creates, then a macvtap skiff creates on a veth. The test
#     guest answers ping; /proc/PID/status shows uid and gid 65534 (all
#     four fields), no capability (the tap) or only CAP_NET_ADMIN (the
#     macvtap, to delete it at the end); /proc/PID/root is the directory;
#     SIGTERM ends skiff with status 0 and no interface it made is left.
#     A SIGSEGV sent to the vCPU thread (seccomp on, CAP_NET_ADMIN kept)
#     ends skiff with 139, and the crash handler deletes the macvtap.
#  2. no privilege at all: skiff as uid 65534 in group kvm, with no
#     capability, on a persistent tap root made for that user (up, with
#     its address): the guest answers ping.
#  3. API mode with --uid/--gid/--chroot: after InstanceStart the API
#     socket still answers that user (curl as uid 65534), and is gone
#     after skiff ends; with a macvtap skiff creates, the macvtap is gone
#     too although the main thread kept no capability.
#  4. bad input: --uid alone, a uid that is not a number, a missing
#     --chroot directory (exit 2); --uid without the privilege to use it
#     (exit 1 before the guest runs). Each message names the fix.
# usage: privileges.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1 GUEST=$2
# A sanitized skiff: after the uid change the process is not dumpable, so
# LeakSanitizer cannot stop it to scan at exit (it would fail the run).
export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0"
require_kvm
require_net
require_curl
command -v setpriv >/dev/null || skip "setpriv (util-linux) not found"
KVM_GID=$(stat -c %g /dev/kvm)
NOBODY=65534
CAP_NET_ADMIN_MASK=0000000000001000

# The files skiff and its unprivileged user need: readable and searchable.
chmod 0711 "$TEST_TMP"
jail="$TEST_TMP/jail"
mkdir "$jail"

# as_nobody CMD...: uid/gid 65534, group kvm, no capability at all.
as_nobody() {
    setpriv --reuid=$NOBODY --regid=$NOBODY --groups="$KVM_GID" --inh-caps=-all --bounding-set=-all -- "$@"
}

# expect_dropped PID CAPS: ids 65534 everywhere, the capability masks, the root.
expect_dropped() {
    local status_file=/proc/$1/status
    local uid gid eff prm
    uid=$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$status_file")
    gid=$(awk '/^Gid:/ {print $2, $3, $4, $5}' "$status_file")
    eff=$(awk '/^CapEff:/ {print $2}' "$status_file")
    prm=$(awk '/^CapPrm:/ {print $2}' "$status_file")
    echo "  pid $1: Uid $uid, Gid $gid, Groups '$(awk '/^Groups:/ {print $2}' "$status_file")', CapEff $eff, CapPrm $prm, root $(readlink /proc/$1/root)"
    [ "$uid" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] || fail "Uid is '$uid', not $NOBODY in all four fields"
    [ "$gid" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] || fail "Gid is '$gid', not $NOBODY in all four fields"
    [ -z "$(awk '/^Groups:/ {print $2}' "$status_file")" ] || fail "supplementary groups left"
    [ "$eff" = "$2" ] && [ "$prm" = "$2" ] || fail "capabilities $eff/$prm, expected $2"
    # -ef compares the directories themselves: the link's text names the path
    # from skiff's own mount namespace (ip netns exec makes one), which is
    # not ours where / is a chroot (the L1 VM of tests/l1vm/run.sh).
    [ "/proc/$1/root" -ef "$jail" ] || fail "root is $(readlink /proc/$1/root), not $jail"
    # Every thread, not only the main one (the vCPU and event-loop threads).
    local task
    for task in /proc/$1/task/*; do
        [ "$(awk '/^Uid:/ {print $2, $3, $4, $5}' "$task/status")" = "$NOBODY $NOBODY $NOBODY $NOBODY" ] ||
            fail "thread ${task##*/} is not uid $NOBODY"
    done
}

# 1a. A tap skiff creates (no address yet: it is given one once it exists).
ns=$(make_netns a)
start_skiff tap "$ns" --log-level debug run --kernel "$GUEST" --memory 64 \
    --uid $NOBODY --gid $NOBODY --chroot "$jail" --net "mode=tap,ifname=skt0" \
    --cmdline "ip=10.0.31.2::10.0.31.1:255.255.255.0" --timeout 300
wait_console tap '^skiff-testguest: network ready' 60
in_ns "$ns" ip addr add 10.0.31.1/24 dev skt0
grep -q "privileges dropped: root $jail uid $NOBODY gid $NOBODY" "$TEST_TMP/tap.err" || fail "no drop logged"
expect_dropped "$skiff_pid" 0000000000000000
ping_ok "$ns" 10.0.31.2 10 56
stop_skiff tap
if in_ns "$ns" ip link show skt0 >/dev/null 2>&1; then fail "the tap skiff created is still there"; fi
grep -q "resource usage: peak RSS [0-9]" "$TEST_TMP/tap.err" || fail "the resource usage was not read after the chroot"

# 1b. A macvtap skiff creates on a veth, pinged from the other end.
vm_ns=$(make_netns vm)
peer_ns=$(make_netns peer)
in_ns "$vm_ns" ip link add vethA type veth peer name vethB
in_ns "$vm_ns" ip link set vethB netns "$peer_ns"
in_ns "$vm_ns" ip link set vethA up
in_ns "$peer_ns" ip addr add 10.0.32.1/24 dev vethB
in_ns "$peer_ns" ip link set vethB up
start_skiff macvtap "$vm_ns" --log-level debug run --kernel "$GUEST" --memory 64 \
    --uid $NOBODY --gid $NOBODY --chroot "$jail" --net "mode=macvtap,link=vethA" \
    --cmdline "ip=10.0.32.2::10.0.32.1:255.255.255.0" --timeout 300
wait_console macvtap '^skiff-testguest: network ready' 60
[ -n "$(in_ns "$vm_ns" ip -o link show type macvtap)" ] || fail "no macvtap while skiff runs"
grep -q "capabilities: CAP_NET_ADMIN only" "$TEST_TMP/macvtap.err" || fail "CAP_NET_ADMIN kept is not logged"
expect_dropped "$skiff_pid" $CAP_NET_ADMIN_MASK
ping_ok "$peer_ns" 10.0.32.2 10 56
stop_skiff macvtap
left=$(in_ns "$vm_ns" ip -o link show type macvtap)
[ -z "$left" ] || fail "the macvtap skiff created is left after it ran as uid $NOBODY: $left"
if grep -q "deleting it" "$TEST_TMP/macvtap.err"; then fail "deleting the macvtap failed"; fi

# 1c. The same, ended by a crash on the vCPU thread: the crash handler runs
# there, under the vcpu filter, as uid 65534 with only CAP_NET_ADMIN (which
# netlink checks on the sender), and sends on the socket skiff opened when
# it created the macvtap, before the drop.
in_ns "$peer_ns" ip neigh flush dev vethB  # the guest's MAC of 1b
# A sanitized skiff must die of the SIGSEGV, not take it for its own fault
# (its handler would report it, and its ioctl trips the vcpu filter: exit 6).
export ASAN_OPTIONS="$ASAN_OPTIONS:handle_segv=0"
start_skiff macvtap_crash "$vm_ns" --log-level debug run --kernel "$GUEST" --memory 64 \
    --uid $NOBODY --gid $NOBODY --chroot "$jail" --net "mode=macvtap,link=vethA" \
    --cmdline "ip=10.0.32.2::10.0.32.1:255.255.255.0" --timeout 300
wait_console macvtap_crash '^skiff-testguest: network ready' 60
ping_ok "$peer_ns" 10.0.32.2 5 56
for task in /proc/"$skiff_pid"/task/*; do
    if [ "$(cat "$task/comm")" = skiff-vcpu0 ]; then
        vcpu_caps=$(awk '/^CapEff:/ {print $2}' "$task/status")
        [ "$vcpu_caps" = $CAP_NET_ADMIN_MASK ] || fail "the vCPU thread has capabilities $vcpu_caps"
    fi
done
tid=$(crash_thread "$skiff_pid" skiff-vcpu0 SEGV)
set +e
wait "$skiff_pid"
status=$?
set -e
[ "$status" -eq 139 ] || { show_skiff macvtap_crash; fail "skiff exited $status after SIGSEGV to its vCPU thread"; }
left=$(in_ns "$vm_ns" ip -o link show type macvtap)
[ -z "$left" ] || fail "the macvtap is left after a crash on the vCPU thread as uid $NOBODY: $left"
echo "  SIGSEGV to skiff-vcpu0 (thread $tid, CapEff $CAP_NET_ADMIN_MASK, seccomp on): died of it (139), macvtap deleted"

# 2. No privilege at all: a persistent tap root made for uid 65534, up,
# with its address; skiff as that user, group kvm, no capability.
in_ns "$ns" ip tuntap add dev usertap mode tap user $NOBODY
in_ns "$ns" ip addr add 10.0.33.1/24 dev usertap
in_ns "$ns" ip link set usertap up
ip netns exec "$ns" setpriv --reuid=$NOBODY --regid=$NOBODY --groups="$KVM_GID" --inh-caps=-all \
    --bounding-set=-all -- "$SKIFF" --log-level debug run --kernel "$GUEST" --memory 64 \
    --net "mode=tap,ifname=usertap" --cmdline "ip=10.0.33.2::10.0.33.1:255.255.255.0" --timeout 300 \
    >"$TEST_TMP/user.out" 2>"$TEST_TMP/user.err" </dev/null &
skiff_pid=$!
cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
echo "--- skiff as uid $NOBODY without capabilities (pid $skiff_pid)"
wait_console user '^skiff-testguest: network ready' 60
echo "  pid $skiff_pid: $(grep -E '^(Uid|CapEff):' /proc/$skiff_pid/status | tr '\n\t' '  ')"
[ "$(awk '/^CapEff:/ {print $2}' /proc/$skiff_pid/status)" = 0000000000000000 ] || fail "skiff has capabilities"
ping_ok "$ns" 10.0.33.2 10 56
stop_skiff user
if grep -E -q "warn|error" "$TEST_TMP/user.err"; then fail "unprivileged skiff warned: $(grep -E 'warn|error' "$TEST_TMP/user.err")"; fi

# 3. API mode: the socket stays the user's after the drop, and goes at exit.
run_dir="$TEST_TMP/run"
mkdir "$run_dir"
chown $NOBODY:$NOBODY "$run_dir"
API_SOCK="$run_dir/skiff.sock"
start_skiff api "$ns" --log-level debug --api-sock "$API_SOCK" --uid $NOBODY --gid $NOBODY --chroot "$jail"
wait_socket "$API_SOCK" 10
[ "$(stat -c %u:%g "$API_SOCK")" = "$NOBODY:$NOBODY" ] || fail "the API socket belongs to $(stat -c %u:%g "$API_SOCK")"
api_expect 204 PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 ip=10.0.33.2::10.0.33.1:255.255.255.0\"}"
api_expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
api_expect 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "usertap"}'
api_expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_console api '^skiff-testguest: network ready' 60
expect_dropped "$skiff_pid" 0000000000000000
answer=$(as_nobody curl -s -S --max-time 20 --unix-socket "$API_SOCK" http://localhost/) ||
    fail "uid $NOBODY cannot use the API socket after InstanceStart"
echo "  GET / as uid $NOBODY: $answer"
echo "$answer" | grep -q '"state":"Running"' || fail "GET / as uid $NOBODY: $answer"
ping_ok "$ns" 10.0.33.2 5 56
stop_skiff api
[ ! -e "$API_SOCK" ] || fail "the API socket $API_SOCK is left after skiff ended"

# 3b. API mode with a macvtap skiff creates: InstanceStart comes on the API
# server's thread and the main thread (which ends skiff) keeps no
# capability; the macvtap must still go (deleted by the run thread).
start_skiff api_macvtap "$vm_ns" --log-level debug --api-sock "$API_SOCK" --uid $NOBODY --gid $NOBODY
wait_socket "$API_SOCK" 10
api_expect 204 PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 ip=10.0.32.2::10.0.32.1:255.255.255.0\"}"
api_expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
api_expect 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "skmv0", "mode": "macvtap", "link": "vethA"}'
api_expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_console api_macvtap '^skiff-testguest: network ready' 60
[ -n "$(in_ns "$vm_ns" ip -o link show type macvtap)" ] || fail "no macvtap while skiff runs (API mode)"
main_caps=$(awk '/^CapEff:/ {print $2}' /proc/$skiff_pid/status)
echo "  main thread CapEff $main_caps"
in_ns "$peer_ns" ip neigh flush dev vethB  # the guest's MAC of 1b, on another macvtap
[ "$main_caps" = 0000000000000000 ] || fail "the main thread kept capabilities $main_caps"
ping_ok "$peer_ns" 10.0.32.2 5 56
stop_skiff api_macvtap
left=$(in_ns "$vm_ns" ip -o link show type macvtap)
[ -z "$left" ] || fail "the macvtap skiff created in API mode is left: $left"
[ ! -e "$API_SOCK" ] || fail "the API socket $API_SOCK is left after skiff ended (API mode, macvtap)"

# 4. Bad input.
run_skiff uid_alone run --uid $NOBODY --timeout 5
expect_status 2
expect_error uid_alone "--uid $NOBODY needs --gid too"
run_skiff gid_alone --api-sock "$TEST_TMP/never.sock" --gid $NOBODY
expect_status 2
expect_error gid_alone "--gid $NOBODY needs --uid too"
run_skiff not_a_number run --uid nobody --gid $NOBODY --timeout 5
expect_status 2
expect_error not_a_number "--uid: 'nobody' is not a number: give the numeric id"
run_skiff no_jail run --chroot "$TEST_TMP/missing" --timeout 5
expect_status 2
expect_error no_jail "--chroot $TEST_TMP/missing: No such file or directory: create the directory first"
# --uid without the privilege to change ids: the start fails before the guest runs.
set +e
as_nobody "$SKIFF" run --kernel "$GUEST" --memory 64 --uid 0 --gid 0 --timeout 30 \
    >"$TEST_TMP/unprivileged.out" 2>"$TEST_TMP/unprivileged.err" </dev/null
status=$?
set -e
sed 's/^/  err| /' "$TEST_TMP/unprivileged.err" | tail -n 5
expect_status 1
expect_error unprivileged "dropping privileges: setgroups\(0\): Operation not permitted: run skiff as root"
if grep -q "skiff-testguest" "$TEST_TMP/unprivileged.out"; then fail "the guest ran although the drop failed"; fi
echo "PASS: --uid/--gid/--chroot after set-up (tap, macvtap, API), and skiff without privilege on a user's tap"
