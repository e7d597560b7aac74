#!/usr/bin/env bash
# skiff's REST API under bad input, before any VM exists (no KVM needed):
# malformed JSON, unknown fields, wrong types, out-of-range values, unknown
# paths and methods, an oversized body, raw garbage instead of HTTP,
# clients that hang up mid-request, and 40 clients at once. Each gets the
# right status and a fault_message where the API answers at all, and skiff
# keeps serving; SIGTERM then ends it with status 0 and removes the socket.
# usage: api_bad_requests.sh SKIFF
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1
require_curl

API_SOCK="$TEST_TMP/skiff.sock"
"$SKIFF" --api-sock "$API_SOCK" --id bad-input >"$TEST_TMP/skiff.out" 2>"$TEST_TMP/skiff.err" </dev/null &
skiff_pid=$!
cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
wait_socket "$API_SOCK" 10

# A second skiff on the same socket path is refused with a clear message.
set +e
"$SKIFF" --api-sock "$API_SOCK" >"$TEST_TMP/second.out" 2>"$TEST_TMP/second.err" </dev/null
second=$?
set -e
[ "$second" -eq 1 ] || fail "a second skiff on a socket in use exited $second (expected 1)"
grep -q "$API_SOCK" "$TEST_TMP/second.err" || fail "the second skiff's error does not name the socket: $(cat "$TEST_TMP/second.err")"

api_fault 400 PUT /machine-config '{"vcpu_count": 1,' 'JSON|json|parse'
api_fault 400 PUT /machine-config 'not json at all' 'JSON|json|parse'
api_fault 400 PUT /machine-config '[1, 2, 3]' 'object'
api_fault 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 64, "gpu": true}' 'gpu'
api_fault 400 PUT /machine-config '{"vcpu_count": -1, "mem_size_mib": 64}' 'vcpu_count'
api_fault 400 PUT /machine-config '{"vcpu_count": 33, "mem_size_mib": 64}' 'vcpu_count'
api_fault 400 PUT /machine-config '{"vcpu_count": 1, "mem_size_mib": 99999999999}' 'mem_size_mib'
api_fault 400 PUT /machine-config '{"vcpu_count": 1.5, "mem_size_mib": 64}' 'vcpu_count'
api_fault 400 PUT /boot-source '{"boot_args": "console=ttyS0"}' 'kernel_image_path'
api_fault 400 PUT /boot-source '{"kernel_image_path": 42}' 'kernel_image_path'
api_fault 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0"}' 'host_dev_name'
api_fault 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "mtu": 20}' 'mtu'
api_fault 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "mode": "carrier-pigeon"}' 'mode'
api_fault 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "rx_rate_limiter": {"bandwidth": {"size": 1000}}}' 'refill_time'
api_fault 400 PUT /network-interfaces/eth0 '{"iface_id": "eth0", "host_dev_name": "tap0", "mode": "vhost", "tx_rate_limiter": {"ops": {"size": 10, "refill_time": 100}}}' 'rate limit'
api_fault 400 PUT /network-interfaces/eth0 '' 'body'
api_fault 400 PUT /actions '{"action_type": "Explode"}' 'action_type'
api_fault 400 PUT /actions '{"action_type": "FlushMetrics"}' 'metrics'
api_fault 400 PUT /actions '{"action_type": "InstanceStart"}' 'boot'
api_fault 400 PUT /logger '{"level": "Loud"}' 'level'
api_fault 404 GET /does-not-exist '' 'does-not-exist'
api_fault 405 DELETE /machine-config '' 'DELETE'

# An oversized body (Firecracker's limit is 51200 bytes).
big=$(python3 -c 'print("{\"boot_args\": \"" + "x" * 100000 + "\", \"kernel_image_path\": \"/k\"}")')
api "PUT" /boot-source "$big"
[ "$api_status" = 413 ] || [ "$api_status" = 400 ] || fail "an oversized body got HTTP $api_status"
echo "$api_body" | grep -q fault_message || fail "no fault_message for an oversized body: $api_body"

# Raw-socket abuse: garbage, a request cut off in its headers, a body
# shorter than its Content-Length; then 40 clients at once.
python3 - "$API_SOCK" <<'PY' || fail "raw-socket abuse"
import socket, sys, threading
path = sys.argv[1]
def connect():
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(30)
    s.connect(path)
    return s
def exchange(data, read=True, half_close=False):
    s = connect()
    s.sendall(data)
    if half_close:
        s.shutdown(socket.SHUT_WR)  # no more bytes are coming
    reply = b""
    if read:
        try:
            while True:
                chunk = s.recv(65536)
                if not chunk:
                    break
                reply += chunk
                if b"\r\n\r\n" in reply and b"Content-Length: 0" in reply:
                    break
                if reply.count(b"}") and reply.rstrip().endswith(b"}"):
                    break
        except socket.timeout:
            pass
    s.close()
    return reply
garbage = exchange(b"\x00\xff\x13garbage\r\n\r\n", half_close=True)
print("  garbage ->", garbage.split(b"\r\n")[0])
assert garbage == b"" or garbage.startswith(b"HTTP/1.1 4"), garbage[:100]
exchange(b"GET / HTTP/1.1\r\nHost: x\r\nContent-Le", read=False)          # cut in the headers
exchange(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"vcpu", read=False)
results = []
def client(i):
    reply = exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    results.append(reply.startswith(b"HTTP/1.1 200") and b"bad-input" in reply)
threads = [threading.Thread(target=client, args=(i,)) for i in range(40)]
for t in threads: t.start()
for t in threads: t.join()
print(f"  40 concurrent clients: {sum(results)} answered 200")
assert all(results), results
PY

api_expect 200 GET /
echo "$api_body" | grep -q '"state":"Not started"' || fail "GET / after the abuse: $api_body"
kill -0 "$skiff_pid" || fail "skiff died"
kill -TERM "$skiff_pid"
set +e
wait "$skiff_pid"
status=$?
set -e
[ "$status" -eq 0 ] || { cat "$TEST_TMP/skiff.err"; fail "skiff exited $status after SIGTERM (expected 0)"; }
[ ! -e "$API_SOCK" ] || fail "the API socket was left behind"
echo "PASS: the API answered every bad request and kept serving"
