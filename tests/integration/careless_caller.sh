#!/usr/bin/env bash
# Careless callers (issue 15, items 8 and 10-14; docs/careless-callers.md):
# duplicate interfaces, missing directories, sloppy numbers, limits past
# what skiff can do, an oversized config file, a tap's MTU. Each is refused
# with the documented status and a message that names the fault, before
# anything is created: no KVM and no network namespace needed (where skiff
# runs as root, the --net cases still run in a namespace of their own, so
# that a regression cannot create interfaces on the host).
# usage: careless_caller.sh SKIFF ITEM (8, 10, 11, 12, 13, 14 or more: one
# ctest each, so that each item fails on its own where it is not fixed)
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
source "$(dirname "$0")/net_lib.sh"
SKIFF_BINARY=$1 ITEM=$2
SKIFF=$SKIFF_BINARY

# refused NAME STATUS REGEX ARGS...: skiff exits STATUS (no crash) and its
# stderr matches REGEX.
refused() {
    local name=$1 expected=$2 regex=$3; shift 3
    run_skiff "$name" "$@"
    [ "$status" -lt 128 ] || fail "skiff crashed on $name"
    expect_status "$expected"
    expect_error "$name" "$regex"
}

# net_refused: refused for the --net cases, with skiff in a namespace of
# its own where it could create interfaces (root); elsewhere it cannot.
NET_SKIFF=
net_refused() {
    if [ -z "$NET_SKIFF" ]; then
        NET_SKIFF=$SKIFF_BINARY
        local ns
        if [ "$(id -u)" -eq 0 ] && command -v ip >/dev/null && ns=$(make_netns careless 2>/dev/null); then
            NET_SKIFF="$TEST_TMP/skiff-in-netns"
            printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$ns" "$SKIFF_BINARY" >"$NET_SKIFF"
            chmod +x "$NET_SKIFF"
        fi
    fi
    SKIFF=$NET_SKIFF refused "$@"
}

# API mode with nothing to serve: a config file whose kernel is missing, so
# that a flag wrongly accepted ends skiff (exit 1) rather than leaving it
# serving.
BOOT_ONLY=(--no-api --config-file "$TEST_TMP/boot.json")
echo '{"boot-source": {"kernel_image_path": "/nonexistent"}}' >"$TEST_TMP/boot.json"

# `skiff run` with a file that is no kernel: should a case's flag be
# accepted after all, skiff fails on the image (exit 1) before it opens
# KVM or creates an interface, instead of booting a guest.
echo "not a kernel" >"$TEST_TMP/not-a-kernel"
RUN=(run --kernel "$TEST_TMP/not-a-kernel")

# start_api: skiff serving the API on $API_SOCK (skips without curl).
start_api() {
    require_curl
    API_SOCK="$TEST_TMP/skiff.sock"
    "$SKIFF_BINARY" --api-sock "$API_SOCK" >"$TEST_TMP/api.out" 2>"$TEST_TMP/api.err" </dev/null &
    skiff_pid=$!
    cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
    wait_socket "$API_SOCK" 10
}

# stop_api: SIGTERM before InstanceStart ends skiff with status 0.
stop_api() {
    kill -TERM "$skiff_pid"
    wait "$skiff_pid" || fail "skiff exited $? after SIGTERM"
}

# put_taps FIRST LAST: PUT /network-interfaces/ethN on tap skccN, each 204.
put_taps() {
    local i
    for i in $(seq "$1" "$2"); do
        api_expect 204 PUT "/network-interfaces/eth$i" "{\"iface_id\": \"eth$i\", \"host_dev_name\": \"skcc$i\"}"
    done
}

# A config file with `section` (JSON) besides a boot source.
config_with() {
    echo "{\"boot-source\": {\"kernel_image_path\": \"/nonexistent\"}, $2}" >"$TEST_TMP/$1"
}

item_8() {  # two interfaces on one fd, tap, macvtap or MAC: exit 2 / 400, both named
    net_refused dup_fd 2 '^--net: net0 and net1 both use fd 5: ' "${RUN[@]}" --net mode=tap,fd=5 --net mode=tap,fd=5
    net_refused dup_ifname 2 "^--net: net0 and net2 both use the host interface 'skcc0'" \
        "${RUN[@]}" --net mode=tap,ifname=skcc0 --net mode=tap,ifname=skcc1 --net mode=vhost,ifname=skcc0
    net_refused dup_macvtap 2 "^--net: net0 and net1 both use the host interface 'skccm0'" \
        "${RUN[@]}" --net mode=macvtap,link=skccnolink0,name=skccm0 --net mode=macvtap,link=skccnolink1,name=skccm0
    net_refused dup_mac 2 '^--net: net0 and net1 both use the guest MAC 02:00:00:00:00:01' \
        "${RUN[@]}" --net mode=tap,ifname=skcc0,mac=02:00:00:00:00:01 --net mode=tap,ifname=skcc1,mac=02:00:00:00:00:01
    net_refused dup_vf 2 '^--net: net0 and net1 both use VF 3 of skccpf' \
        "${RUN[@]}" --net mode=vfio,pf=skccpf,vf=3 --net mode=vfio,pf=skccpf,vf=3
    start_api
    api_expect 204 PUT /network-interfaces/eth0 \
        '{"iface_id": "eth0", "host_dev_name": "skcc0", "guest_mac": "02:00:00:00:00:01"}'
    api_fault 400 PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "skcc0"}' \
        "eth0 and eth1 both use the host interface 'skcc0'"
    api_fault 400 PUT /network-interfaces/eth1 \
        '{"iface_id": "eth1", "host_dev_name": "skcc1", "guest_mac": "02:00:00:00:00:01"}' \
        'eth0 and eth1 both use the guest MAC 02:00:00:00:00:01'
    # The same id replaces its interface: no clash with itself.
    api_expect 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "skcc0"}'
    stop_api
}

item_10() {  # files in a directory that does not exist: an error naming it, no directory created
    local missing="$TEST_TMP/nodir"
    refused log_dir 2 "^--log-path: directory $missing/sub does not exist: create it first" \
        --log-path "$missing/sub/skiff.log" "${BOOT_ONLY[@]}"
    [ ! -e "$missing" ] || fail "--log-path created $missing"
    refused serial_dir 2 "^--serial: directory $missing does not exist: create it first" \
        "${RUN[@]}" --serial "file:$missing/console.log"
    refused socket_dir 2 "^--api-sock: directory $missing does not exist: create it first" \
        --api-sock "$missing/skiff.sock"
    config_with logger.json "\"logger\": {\"log_path\": \"$missing/skiff.log\"}"
    refused config_log_dir 1 "log_path $missing/skiff.log: directory $missing does not exist: create it first" \
        --no-api --config-file "$TEST_TMP/logger.json"
    config_with metrics.json "\"metrics\": {\"metrics_path\": \"$missing/m.json\"}"
    refused config_metrics_dir 1 "metrics_path $missing/m.json: directory $missing does not exist: create it first" \
        --no-api --config-file "$TEST_TMP/metrics.json"
    [ ! -e "$missing" ] || fail "a config file's log_path created $missing"
    start_api
    api_fault 400 PUT /logger "{\"log_path\": \"$missing/skiff.log\"}" \
        "log_path $missing/skiff.log: directory $missing does not exist: create it first"
    api_fault 400 PUT /metrics "{\"metrics_path\": \"$missing/m.json\"}" \
        "metrics_path $missing/m.json: directory $missing does not exist: create it first"
    [ ! -e "$missing" ] || fail "PUT /logger created $missing"
    stop_api
}

item_11() {  # numbers: plain decimal, in range, readable messages
    refused timeout_nan 2 "^--timeout: 'nan' is not a number of seconds" "${RUN[@]}" --timeout nan
    refused timeout_zero 2 '^--timeout: 0 is out of range: give more than 0 and at most 1000000000 seconds$' \
        "${RUN[@]}" --timeout 0
    local size
    size=$(wc -c <"$TEST_TMP/timeout_zero.err")
    [ "$size" -lt 200 ] || fail "--timeout 0's message is $size bytes"
    refused timeout_inf 2 "^--timeout: 'inf' is not a number of seconds" "${RUN[@]}" --timeout inf
    refused memory_abc 2 "^--memory: 'abc' is not a whole number of MiB" "${RUN[@]}" --memory abc
    refused memory_range 2 '^--memory: 8 is out of range: give 16 to 262144 MiB$' "${RUN[@]}" --memory 8
    refused cpus_hex 2 "^--cpus: '0x2' is not a whole number of vCPUs" "${RUN[@]}" --cpus 0x2
    refused cpus_octal 2 "^--cpus: '010' is not a whole number of vCPUs" "${RUN[@]}" --cpus 010
    refused uid_hex 2 "^--uid: '0x3e8' is not a number" "${RUN[@]}" --uid 0x3e8 --gid 1000
    net_refused mtu_hex 2 '^--net: mtu=0x5dc: expected a whole number' \
        "${RUN[@]}" --net mode=tap,ifname=skcc0,mtu=0x5dc
    net_refused fd_octal 2 '^--net: fd=010: expected a file descriptor number' "${RUN[@]}" --net mode=tap,fd=010
    net_refused rate_exp 2 '^--net: tx-bandwidth=1e6:100: BYTES must be a whole number' \
        "${RUN[@]}" --net mode=tap,ifname=skcc0,tx-bandwidth=1e6:100
}

item_12() {  # bad flags exit 2 before any side effect
    refused cpu_template 2 \
        "^--cpu-template: unknown CPU template 'bogus': expected host, baseline or emulated-kernel" \
        "${RUN[@]}" --cpu-template bogus
    local long_socket
    long_socket="$TEST_TMP/$(printf 's%.0s' $(seq 1 $((108 - ${#TEST_TMP} - 1))))"
    [ "${#long_socket}" -eq 108 ] || fail "test bug: socket path is ${#long_socket} bytes"
    refused socket_length 2 '^--api-sock: .* is 108 bytes long: a unix socket path takes 1 to 107' \
        --api-sock "$long_socket"
    [ ! -e "$long_socket" ] || fail "a socket was created at the 108-byte path"
    local seventeen=() i
    for i in $(seq 0 16); do seventeen+=(--net "mode=tap,ifname=skcc$i"); done
    net_refused seventeen_mmio 2 '^--net: 17 interfaces are on virtio-mmio, which has room for 16' \
        "${RUN[@]}" "${seventeen[@]}"
    start_api
    put_taps 0 15
    api_fault 400 PUT /network-interfaces/eth16 '{"iface_id": "eth16", "host_dev_name": "skcc16"}' \
        '17 interfaces are on virtio-mmio, which has room for 16'
    stop_api
}

item_13() {  # a config file over 1 MiB: the config file's limit, not guest memory
    python3 -c 'print("{\"boot-source\": {\"kernel_image_path\": \"" + "k" * (1 << 20) + "\"}}")' \
        >"$TEST_TMP/big.json"
    refused config_size 1 "config file .*big.json is [0-9]+ bytes, more than the 1048576 bytes allowed: \
it exceeds the 1 MiB limit for config files" --no-api --config-file "$TEST_TMP/big.json"
    ! grep -q 'guest memory' "$TEST_TMP/config_size.err" || fail "the config file's limit is blamed on guest memory"
}

item_14() {  # a tap's MTU is 68..65521, in --net help, errors and the API
    net_refused tap_mtu 2 "^--net: mtu=65522: expected a whole number from 68 to 65521 \\(a tap's limits\\)" \
        "${RUN[@]}" --net mode=tap,ifname=skcc0,mtu=65522
    net_refused vhost_mtu 2 '^--net: mtu=65535: expected a whole number from 68 to 65521' \
        "${RUN[@]}" --net mode=vhost,ifname=skcc0,mtu=65535
    run_skiff net_help run --net help
    expect_status 0
    grep -q 'a tap takes 68..65521' "$TEST_TMP/net_help.out" || fail "--net help does not state a tap's MTU range"
    start_api
    api_fault 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "skcc0", "mtu": 65522}' \
        "field 'mtu': 65522 is above 65521, the most a tap takes"
    stop_api
}

item_more() {  # the same class of fault elsewhere
    refused cmdline_length 2 '^--cmdline: 65536 bytes is too long: skiff takes at most 65535' \
        "${RUN[@]}" --cmdline "$(printf 'x%.0s' $(seq 1 65536))"
    refused id_chars 2 '^--id: the id "a b" is not a valid id' --id "a b" "${BOOT_ONLY[@]}"
    refused api_flag_on_run 2 '^--api-sock is for API mode' --api-sock "$TEST_TMP/x.sock" "${RUN[@]}"
    refused level_on_run 2 '^--level is for API mode' --level Debug "${RUN[@]}"
    refused socket_no_api 2 '^--api-sock does not go with --no-api' --api-sock "$TEST_TMP/x.sock" "${BOOT_ONLY[@]}"
    refused uid_twice 2 "^--uid is given before and after .run. \\('1' and '2'\\)" --uid 1 --gid 1 "${RUN[@]}" --uid 2
    python3 -c 'print("{\"boot-source\": {\"kernel_image_path\": \"/k\", \"boot_args\": \"" + "x" * 65536 + "\"}}")' \
        >"$TEST_TMP/long_args.json"
    refused config_boot_args 1 'boot_args is 65536 bytes; skiff passes at most 65535' \
        --no-api --config-file "$TEST_TMP/long_args.json"
    start_api
    api_fault 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "cpu_template": "T2"}' \
        "unknown CPU template 'T2'"
    stop_api
}

case $ITEM in
    8 | 10 | 11 | 12 | 13 | 14 | more) "item_$ITEM" ;;
    *) fail "unknown item '$ITEM'" ;;
esac
echo "PASS: careless callers, item $ITEM: refused with the documented status and message"
