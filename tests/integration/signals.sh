#!/usr/bin/env bash
# Signals (issue 15): SIGINT, SIGTERM, SIGHUP and SIGQUIT stop skiff in an
# orderly way (exit 0, the API socket file removed); SIGPIPE, SIGUSR1 and
# SIGUSR2 change nothing; a stop signal during a long start-up (a large
# initrd being read) ends it at once with exit 0; under nohup (SIGHUP
# ignored by the caller) SIGHUP stays ignored; a vanished stderr reader does
# not turn SIGTERM into death by SIGPIPE. Needs no /dev/kvm.
# usage: signals.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2
export SKIFF TEST_TMP GUEST

python3 - <<'PY'
import os, signal, subprocess, sys, time

skiff, tmp, guest = os.environ["SKIFF"], os.environ["TEST_TMP"], os.environ["GUEST"]
failures = []

def fail(message):
    print("FAIL:", message)
    failures.append(message)

def wait_for(predicate, seconds, what):
    deadline = time.monotonic() + seconds
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(what)
        time.sleep(0.01)

def serve(name, preexec=None, stderr=None):
    sock = os.path.join(tmp, name + ".sock")
    err = stderr if stderr is not None else open(os.path.join(tmp, name + ".err"), "wb")
    proc = subprocess.Popen([skiff, "--api-sock", sock], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=err, preexec_fn=preexec)
    wait_for(lambda: os.path.exists(sock) or proc.poll() is not None, 10, "API socket")
    return proc, sock

def ended(proc, seconds=10):
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None

def err_text(name):
    with open(os.path.join(tmp, name + ".err"), "rb") as f:
        return f.read().decode(errors="replace")

# The stop signals, in API mode before InstanceStart.
for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT):
    name = "stop-" + sig.name
    proc, sock = serve(name)
    proc.send_signal(sig)
    status = ended(proc)
    print(f"{sig.name}: exit {status}, socket {'left' if os.path.exists(sock) else 'removed'}")
    if status != 0:
        fail(f"{sig.name}: exit status {status}, expected 0")
    if os.path.exists(sock):
        fail(f"{sig.name}: the API socket file was left behind")
    if f"stopped by signal {int(sig)} before InstanceStart" not in err_text(name):
        fail(f"{sig.name}: no 'stopped by signal' line: {err_text(name)!r}")

# Signals that change nothing.
proc, sock = serve("ignored")
for sig in (signal.SIGPIPE, signal.SIGUSR1, signal.SIGUSR2):
    proc.send_signal(sig)
time.sleep(0.5)
if proc.poll() is not None:
    fail(f"SIGPIPE/SIGUSR1/SIGUSR2 ended skiff (status {proc.returncode})")
else:
    print("SIGPIPE, SIGUSR1, SIGUSR2: skiff still runs")
proc.send_signal(signal.SIGTERM)
if ended(proc) != 0:
    fail("SIGTERM after the ignored signals: not exit 0")

# nohup: a caller that ignores SIGHUP keeps skiff running through it.
proc, sock = serve("nohup", preexec=lambda: signal.signal(signal.SIGHUP, signal.SIG_IGN))
proc.send_signal(signal.SIGHUP)
time.sleep(0.5)
if proc.poll() is not None:
    fail(f"SIGHUP under nohup ended skiff (status {proc.returncode})")
else:
    print("SIGHUP under nohup: ignored, skiff still runs")
proc.send_signal(signal.SIGTERM)
if ended(proc) != 0 or os.path.exists(sock):
    fail("SIGTERM under nohup: not an orderly exit")

# The stderr reader goes away; skiff's last log lines must not kill it.
reader, writer = os.pipe()
proc, sock = serve("epipe", stderr=writer)
os.close(writer)
os.close(reader)
proc.send_signal(signal.SIGTERM)
status = ended(proc)
print(f"SIGTERM with stderr's reader gone: exit {status}")
if status != 0 or os.path.exists(sock):
    fail(f"SIGTERM with a closed stderr: exit {status} (-13 is SIGPIPE), socket left: {os.path.exists(sock)}")

# A stop signal while a 2.5 GiB initrd is read into guest memory.
initrd = os.path.join(tmp, "big-initrd")
with open(initrd, "wb") as f:
    f.truncate(2560 << 20)
for sig in (signal.SIGTERM, signal.SIGHUP):
    name = "startup-" + sig.name
    with open(os.path.join(tmp, name + ".err"), "wb") as err:
        proc = subprocess.Popen([skiff, "run", "--memory", "3000", "--kernel", guest, "--initrd", initrd,
                                 "--cmdline", "console=ttyS0 testguest.mode=shutdown", "--timeout", "20"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err)
    def rss_mib():
        try:
            with open(f"/proc/{proc.pid}/status") as status_file:
                for line in status_file:
                    if line.startswith("VmRSS:"):
                        return int(line.split()[1]) // 1024
        except OSError:
            pass
        return 0
    try:
        wait_for(lambda: rss_mib() > 64 or proc.poll() is not None, 20, "the initrd read")
    except TimeoutError:
        fail(f"{name}: skiff did not start reading the initrd")
    rss = rss_mib()
    sent = time.monotonic()
    proc.send_signal(sig)
    status = ended(proc, 30)
    took = time.monotonic() - sent
    text = err_text(name)
    print(f"{sig.name} at {rss} MiB of the initrd read: exit {status} {took * 1000:.0f} ms later")
    if f"stopped by signal {int(sig)} during start-up" not in text:
        fail(f"{name}: no 'stopped by signal {int(sig)} during start-up' line (exit {status}): {text[-600:]!r}")
    if status != 0:
        fail(f"{name}: exit status {status}, expected 0")

sys.exit(1 if failures else 0)
PY
echo "PASS: stop signals end skiff in order, others change nothing"
