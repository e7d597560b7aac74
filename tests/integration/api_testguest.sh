#!/usr/bin/env bash
# The test guest booted through the REST API, as Firecracker's guide does it
# (curl --unix-socket: boot-source, machine-config, network-interfaces,
# InstanceStart), with an interface on a tap in a namespace of its own:
# ping through it, GET / and /vm/config, bad requests answered with a
# fault_message while the VM keeps running, pre-boot calls refused after
# the start, the log moved to a file by PUT /logger, pause (ping fails)
# and resume (ping works), metrics flushed
# with the interface's counters, and SendCtrlAltDel ending the VM (exit 0).
# usage: api_testguest.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1 GUEST=$2
require_kvm
require_net
require_curl

ns=$(make_netns a)
add_tap "$ns" tap0 10.0.3.1/24
API_SOCK="$TEST_TMP/skiff.sock"
start_skiff api "$ns" --api-sock "$API_SOCK" --id api-test
wait_socket "$API_SOCK" 10

api_expect 200 GET /
echo "$api_body" | grep -q '"state":"Not started"' || fail "GET / before start: $api_body"
echo "$api_body" | grep -q '"id":"api-test"' || fail "GET / does not report --id: $api_body"
api_expect 200 GET /version

# Pre-boot configuration, exactly as the Firecracker guide sends it.
api_expect 204 PUT /boot-source "{\"kernel_image_path\": \"$GUEST\", \"boot_args\": \"console=ttyS0 ip=10.0.3.2::10.0.3.1:255.255.255.0\"}"
api_expect 204 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64}'
api_expect 204 PATCH /machine-config '{"mem_size_mib": 96}'
api_expect 200 GET /machine-config
echo "$api_body" | grep -q '"mem_size_mib":96' || fail "PATCH /machine-config did not apply: $api_body"
api_expect 204 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "guest_mac": "06:00:AC:10:00:02", "host_dev_name": "tap0"}'
api_expect 204 PUT /metrics "{\"metrics_path\": \"$TEST_TMP/metrics.json\"}"
api_expect 204 PUT /logger "{\"log_path\": \"$TEST_TMP/skiff.log\", \"level\": \"Info\", \"show_level\": true}"

# Bad requests before the start: each refused with a fault_message.
api_fault 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64' 'JSON|json|parse'
api_fault 400 PUT /machine-config '{"vcpu_count": 0, "mem_size_mib": 64}' 'vcpu_count'
api_fault 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "bogus": 1}' 'bogus'
api_fault 400 PUT /machine-config '{"vcpu_count": "two", "mem_size_mib": 64}' 'vcpu_count'
api_fault 400 PUT /network-interfaces/eth1 '{"iface_id": "eth0", "host_dev_name": "tap0"}' 'iface_id|eth1'
api_fault 400 PUT /network-interfaces/eth1 '{"iface_id": "eth1", "host_dev_name": "tap1", "guest_mac": "01:00:00:00:00:01"}' 'multicast|mac'
api_fault 404 GET /no/such/path '' 'no/such/path'
api_fault 400 PATCH /vm '{"state": "Paused"}' 'start|running'

api_expect 204 PUT /actions '{"action_type": "InstanceStart"}'
wait_console api '^skiff-testguest: network ready' 60
grep -q "\[info\] guest boot doorbell: .* ms after InstanceStart" "$TEST_TMP/skiff.log" ||
    fail "no boot doorbell timed from InstanceStart in the log file PUT /logger named"
api_expect 200 GET /
echo "$api_body" | grep -q '"state":"Running"' || fail "GET / after start: $api_body"
ping_ok "$ns" 10.0.3.2 10 56

# After the start: pre-boot calls refused, the VM unharmed.
api_fault 400 PUT /boot-source "{\"kernel_image_path\": \"$GUEST\"}" 'before the microVM starts'
api_fault 400 PUT /machine-config '{"vcpu_count": 2, "mem_size_mib": 64}' 'before the microVM starts'
api_fault 400 PUT /actions '{"action_type": "InstanceStart"}' 'before the microVM starts'
api_fault 400 PUT /actions '{"action_type": "Reboot"}' 'action_type|Reboot'
api_expect 200 GET /vm/config
echo "$api_body" | grep -q '"host_dev_name":"tap0"' || fail "GET /vm/config lacks the interface: $api_body"
ping_ok "$ns" 10.0.3.2 5 56

# Pause: the guest answers nothing; resume: it answers again.
api_expect 204 PATCH /vm '{"state": "Paused"}'
api_expect 200 GET /
echo "$api_body" | grep -q '"state":"Paused"' || fail "GET / while paused: $api_body"
if in_ns "$ns" ping -n -q -c 3 -i 0.2 -W 1 10.0.3.2 >/dev/null 2>&1; then
    fail "the paused guest answered ping"
fi
echo "  paused: no answer to ping"
api_expect 204 PATCH /vm '{"state": "Resumed"}'
ping_ok "$ns" 10.0.3.2 10 56

api_expect 204 PUT /actions '{"action_type": "FlushMetrics"}'
tail -n 1 "$TEST_TMP/metrics.json" | python3 -c '
import json, sys
line = json.loads(sys.stdin.read())
eth0 = line["net_eth0"]
print("  metrics: net_eth0", eth0)
assert eth0["rx_packets_count"] >= 25 and eth0["tx_packets_count"] >= 25, eth0
assert line["net"]["rx_bytes_count"] == eth0["rx_bytes_count"], line
' || fail "the metrics line lacks the interface's traffic"

# Ctrl-Alt-Del: the test guest resets through the i8042 and skiff exits 0.
api_expect 204 PUT /actions '{"action_type": "SendCtrlAltDel"}'
wait_exit() {
    local deadline=$((SECONDS + 30))
    while kill -0 "$skiff_pid" 2>/dev/null; do
        [ $SECONDS -lt $deadline ] || fail "skiff still runs 30 s after SendCtrlAltDel"
        sleep 0.1
    done
    set +e
    wait "$skiff_pid"
    status=$?
    set -e
}
wait_exit
show_skiff api
[ "$status" -eq 0 ] || fail "skiff exited $status after SendCtrlAltDel (expected 0)"
grep -q "ctrl-alt-del" "$TEST_TMP/api.out" || fail "the guest did not see Ctrl-Alt-Del"
[ ! -e "$API_SOCK" ] || fail "the API socket $API_SOCK was left behind"
echo "PASS: test guest booted and driven through the REST API"
