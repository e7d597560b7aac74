#!/usr/bin/env bash
# --config-file: the test guest with an interface on a tap, booted from a
# Firecracker-format JSON file without API calls (--no-api), pinged, its
# metrics written; the same file with the API on (GET / says Running at
# once); and bad files refused with exit 1 and a message naming the fault.
# usage: api_config_file.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net
require_curl

ns=$(make_netns a)
add_tap "$ns" tap0 10.0.4.1/24
cat >"$TEST_TMP/vm.json" <<JSON
{
  "boot-source": {
    "kernel_image_path": "$GUEST",
    "boot_args": "console=ttyS0 ip=10.0.4.2::10.0.4.1:255.255.255.0"
  },
  "drives": [],
  "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "smt": false},
  "network-interfaces": [
    {"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"}
  ],
  "metrics": {"metrics_path": "$TEST_TMP/metrics.json"}
}
JSON

start_skiff nofile "$ns" --no-api --config-file "$TEST_TMP/vm.json"
wait_console nofile '^skiff-testguest: network ready' 60
ping_ok "$ns" 10.0.4.2 10 56
stop_skiff nofile
tail -n 1 "$TEST_TMP/metrics.json" | python3 -c '
import json, sys
line = json.loads(sys.stdin.read())
print("  final metrics: net_eth0", line["net_eth0"])
assert line["net_eth0"]["rx_packets_count"] >= 10, line
' || fail "no final metrics line with the interface's traffic"

# The same file with the API on: running without an InstanceStart.
rm -f "$TEST_TMP/metrics.json"
API_SOCK="$TEST_TMP/skiff.sock"
start_skiff withapi "$ns" --api-sock "$API_SOCK" --config-file "$TEST_TMP/vm.json"
wait_socket "$API_SOCK" 10
wait_console withapi '^skiff-testguest: network ready' 60
api_expect 200 GET /
echo "$api_body" | grep -q '"state":"Running"' || fail "GET / with --config-file: $api_body"
api_fault 400 PUT /actions '{"action_type": "InstanceStart"}' 'before the microVM starts'
ping_ok "$ns" 10.0.4.2 5 56
stop_skiff withapi

# Bad files: exit 1, one line naming the fault.
bad_file() {
    local name=$1 regex=$2
    set +e
    "$SKIFF" --no-api --config-file "$TEST_TMP/$name.json" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null
    local status=$?
    set -e
    echo "  $name: exit $status: $(tail -n 1 "$TEST_TMP/$name.err")"
    [ "$status" -eq 1 ] || fail "config file $name: exit $status (expected 1)"
    grep -E -q -- "$regex" "$TEST_TMP/$name.err" || fail "config file $name: no /$regex/ in: $(cat "$TEST_TMP/$name.err")"
}
echo '{"boot-source": {"kernel_image_path": "/nonexistent/vmlinux"}}' >"$TEST_TMP/nokernel.json"
bad_file nokernel '/nonexistent/vmlinux'
echo '{"boot-source": {"kernel_image_path": "x"}, "machine-config": {"vcpu_count": 1, "mem_size_mib": 64, "turbo": 1}}' >"$TEST_TMP/unknown.json"
bad_file unknown 'turbo'
echo '{"boot-source": {"kernel_image_path": "x"}, "vsock": {"guest_cid": 3, "uds_path": "/tmp/v"}}' >"$TEST_TMP/vsock.json"
bad_file vsock 'vsock'
printf '{"boot-source": ' >"$TEST_TMP/truncated.json"
bad_file truncated 'JSON|json|parse'
echo "PASS: config file with and without the API; bad files refused"
