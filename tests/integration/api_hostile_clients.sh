#!/usr/bin/env bash
# Hostile local clients on skiff's API socket, before any VM exists (no KVM
# needed; issues 15 and 16). Whatever they do, the runtime keeps its
# control channel and each bad request gets exactly one clear answer:
# - 64 idle connections, then a normal GET / answered within 3 s;
# - 64 slow-loris clients (one byte a second, reconnecting when dropped),
#   and normal GETs still answered within 3 s;
# - Content-Length -1, 99999999999999999999, or given twice: one 400;
# - GET /machine-config%00xyz: 400;
# - a chunked body of up to 100 MB: a 4xx with a fault_message;
# - a NUL inside kernel_image_path: 400 naming the field;
# - no raw control character in skiff's log.
# Then SIGTERM ends skiff with status 0 and the socket is removed.
# usage: api_hostile_clients.sh SKIFF
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/api_lib.sh"
SKIFF=$1
command -v python3 >/dev/null || skip "python3 not found"

API_SOCK="$TEST_TMP/skiff.sock"
"$SKIFF" --api-sock "$API_SOCK" --id hostile --level Debug >"$TEST_TMP/skiff.out" 2>"$TEST_TMP/skiff.err" </dev/null &
skiff_pid=$!
cleanup_hooks+=("kill -9 $skiff_pid 2>/dev/null")
wait_socket "$API_SOCK" 10

python3 - "$API_SOCK" <<'PY' || { tail -n 30 "$TEST_TMP/skiff.err" | sed 's/^/  err| /'; fail "hostile clients"; }
import json, re, socket, sys, threading, time

path = sys.argv[1]
PROMPT = 3.0  # seconds a normal request may take while the socket is under attack
STATUS_LINE = re.compile(rb"(?:^|\r\n)HTTP/1\.[01] (\d{3}) ")

def connect(timeout=15):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.connect(path)
    return s

def read_to_end(s):
    data = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    except (ConnectionResetError, socket.timeout):
        pass
    return data

def exchange(raw):
    s = connect()
    try:
        s.sendall(raw)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server answered early and closed: the answer is still there
    data = read_to_end(s)
    s.close()
    return data

def statuses(data):
    return [int(m) for m in STATUS_LINE.findall(data)]

def fault_message(data):
    body = data.split(b"\r\n\r\n", 1)[1] if b"\r\n\r\n" in data else b""
    return json.loads(body)["fault_message"]

def timed_get(what):
    start = time.monotonic()
    data = exchange(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    elapsed = time.monotonic() - start
    print(f"  GET / {what}: {statuses(data)} in {elapsed:.2f} s")
    assert statuses(data) == [200] and b"hostile" in data, data[:200]
    assert elapsed < PROMPT, f"GET / took {elapsed:.1f} s {what}"

# 64 idle connections (the server's limit), then a normal client.
idle = [connect() for _ in range(64)]
time.sleep(0.5)
timed_get("after 64 idle connections")
for s in idle:
    s.close()

# 64 slow-loris clients: one byte a second of a never-ending request,
# reconnecting whenever the server drops them.
stop = threading.Event()
def slow_loris():
    request = b"PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 40\r\n" + b"X-Slow: " + b"a" * 1000
    while not stop.is_set():
        try:
            s = connect()
            for byte in request:
                if stop.is_set():
                    break
                s.send(bytes([byte]))
                stop.wait(1.0)
            s.close()
        except OSError:
            stop.wait(0.1)
lorises = [threading.Thread(target=slow_loris) for _ in range(64)]
for t in lorises:
    t.start()
time.sleep(3)
for round in range(3):
    timed_get(f"with 64 slow-loris clients (round {round + 1})")
    time.sleep(1)
stop.set()
for t in lorises:
    t.join()

# Content-Length games: each must get one status line, a 400. The body is
# one a lenient server would take (204).
body = b'{"vcpu_count": 1, "mem_size_mib": 128}'
for name, lengths in [("-1", b"Content-Length: -1\r\n"),
                      ("20 digits", b"Content-Length: 99999999999999999999\r\n"),
                      ("given twice", b"Content-Length: %d\r\nContent-Length: %d\r\n" % (len(body), len(body)))]:
    data = exchange(b"PUT /machine-config HTTP/1.1\r\nHost: x\r\n" + lengths + b"\r\n" + body)
    print(f"  Content-Length {name}: {statuses(data)} {fault_message(data)!r}")
    assert statuses(data) == [400], data[:300]
    assert "Content-Length" in fault_message(data)

# A NUL (or any control character) in the path.
for raw_path in [b"/machine-config%00xyz", b"/machine-config%0a"]:
    data = exchange(b"GET " + raw_path + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    print(f"  GET {raw_path.decode()}: {statuses(data)} {fault_message(data)!r}")
    assert statuses(data) == [400], data[:300]

# A chunked body far over the limit: one answer with a fault_message.
s = connect()
sent = 0
try:
    s.sendall(b"PUT /boot-source HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
    while sent < 100 * 1024 * 1024:
        s.sendall(chunk)
        sent += len(chunk)
except (BrokenPipeError, ConnectionResetError):
    pass
data = read_to_end(s)
s.close()
print(f"  chunked body ({sent >> 20} MiB sent before the server closed): {statuses(data)} {fault_message(data)!r}")
assert len(statuses(data)) == 1 and 400 <= statuses(data)[0] < 500, data[:300]
assert sent < 100 * 1024 * 1024, "the server read the whole 100 MB"

# A NUL inside a path in a JSON body.
boot = b'{"kernel_image_path": "/etc/hostname\\u0000/etc/shadow", "boot_args": "x\\u0000y"}'
data = exchange(b"PUT /boot-source HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % len(boot) + boot)
print(f"  NUL in kernel_image_path: {statuses(data)} {fault_message(data)!r}")
assert statuses(data) == [400] and "kernel_image_path" in fault_message(data), data[:300]

timed_get("at the end")
PY

api_expect 200 GET /vm/config
! echo "$api_body" | grep -q hostname || fail "the refused boot source was set: $api_body"

# The log: requests were logged (--level Debug), none of their control
# characters raw.
python3 - "$TEST_TMP/skiff.err" <<'PY' || fail "raw control characters in skiff's log"
import sys
text = open(sys.argv[1], "rb").read()
bad = [(i, text[i]) for i in range(len(text)) if (text[i] < 0x20 and text[i] != 0x0a) or text[i] == 0x7f]
print(f"  log: {len(text)} bytes, {len(bad)} raw control characters")
assert not bad, bad[:10]
PY

kill -0 "$skiff_pid" || fail "skiff died"
kill -TERM "$skiff_pid"
set +e
wait "$skiff_pid"
status=$?
set -e
[ "$status" -eq 0 ] || { tail -n 30 "$TEST_TMP/skiff.err"; fail "skiff exited $status after SIGTERM (expected 0)"; }
[ ! -e "$API_SOCK" ] || fail "the API socket was left behind"
echo "PASS: hostile clients cost only their own connections; each bad request got one answer"
