#!/usr/bin/env python3
"""Control-API benchmark: how fast skiff is driven through its REST API,
next to the same figures from `skiff run`, and how many networked test-guest
VMs it creates per second.

Figures (medians over --runs):
  api_ready      process start -> the API socket accepts a connection
  config         the PUTs (boot-source, machine-config, network-interfaces),
                 client-side
  start_call     PUT /actions InstanceStart -> its 204 (the VM is built)
  doorbell       InstanceStart -> the guest's boot doorbell (skiff's log)
  run_doorbell   `skiff run`: process start -> boot doorbell (skiff's log)
  creations/s    complete VM lives, each: process start, configuration,
                 InstanceStart, the guest's "network ready" on its console,
                 SIGTERM, exit; sequential and 2 at a time (each VM has its
                 own tap, which skiff creates and removes)

Needs root (taps in a network namespace of its own, removed at exit) and
/dev/kvm. usage: bench/api.py [--runs N] [--lives N] [--skiff build/skiff]
                              [--guest build/guest-images/testguest.elf]
"""
import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

NETNS = f"skiff-bench-api-{os.getpid()}"


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("localhost", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def request(sock_path, method, path, body=None):
    conn = UnixHTTPConnection(sock_path)
    headers = {"Content-Type": "application/json"} if body is not None else {}
    conn.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
    response = conn.getresponse()
    data = response.read()
    conn.close()
    if response.status >= 300:
        raise RuntimeError(f"{method} {path}: HTTP {response.status}: {data.decode(errors='replace')}")
    return data


def wait_accepting(path, proc, limit=10.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"skiff exited {proc.returncode} before serving its API")
        try:
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.connect(path)
            s.close()
            return time.monotonic()
        except OSError:
            time.sleep(0.0005)
    raise RuntimeError("the API socket did not appear")


def ns_argv(argv):
    return ["ip", "netns", "exec", NETNS] + argv


def wait_console(proc_out_path, marker, proc, limit=60.0):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        with open(proc_out_path, "rb") as f:
            if marker in f.read():
                return time.monotonic()
        if proc.poll() is not None:
            raise RuntimeError(f"skiff exited {proc.returncode} before {marker!r}")
        time.sleep(0.002)
    raise RuntimeError(f"no {marker!r} within {limit} s")


def api_life(args, index, workdir, want_network=True):
    """One VM through the API: returns the timings in ms."""
    sock = os.path.join(workdir, f"api-{index}.sock")
    out = os.path.join(workdir, f"api-{index}.out")
    err = os.path.join(workdir, f"api-{index}.err")
    tap = f"sbt{index % 1000}"
    with open(out, "wb") as o, open(err, "wb") as e:
        t0 = time.monotonic()
        proc = subprocess.Popen(ns_argv([args.skiff, "--api-sock", sock, "--id", f"bench-{index}"]),
                                stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        try:
            ready = wait_accepting(sock, proc)
            octet = 2 + index % 200
            request(sock, "PUT", "/boot-source", {
                "kernel_image_path": args.guest,
                "boot_args": f"console=ttyS0 ip=10.0.7.{octet}::10.0.7.1:255.255.255.0"})
            request(sock, "PUT", "/machine-config", {"vcpu_count": 1, "mem_size_mib": 64})
            if want_network:
                request(sock, "PUT", "/network-interfaces/eth0",
                        {"iface_id": "eth0", "host_dev_name": tap})
            configured = time.monotonic()
            request(sock, "PUT", "/actions", {"action_type": "InstanceStart"})
            started = time.monotonic()
            marker = b"skiff-testguest: network ready" if want_network else b"skiff-testguest: booted"
            up = wait_console(out, marker, proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        ended = time.monotonic()
    log = open(err, "rb").read().decode(errors="replace")
    m = re.search(r"guest boot doorbell: ([0-9.]+) ms after InstanceStart", log)
    return {
        "api_ready": (ready - t0) * 1e3,
        "config": (configured - ready) * 1e3,
        "start_call": (started - configured) * 1e3,
        "doorbell": float(m.group(1)) if m else None,
        "up": (up - t0) * 1e3,
        "life": (ended - t0) * 1e3,
        "status": proc.returncode,
    }


def run_life(args, index, workdir):
    """One VM through `skiff run`, the same guest and interface."""
    out = os.path.join(workdir, f"run-{index}.out")
    err = os.path.join(workdir, f"run-{index}.err")
    tap = f"sbr{index % 1000}"
    octet = 2 + index % 200
    with open(out, "wb") as o, open(err, "wb") as e:
        t0 = time.monotonic()
        proc = subprocess.Popen(ns_argv([args.skiff, "run", "--kernel", args.guest, "--memory", "64",
                                         "--net", f"mode=tap,ifname={tap}",
                                         "--cmdline", f"console=ttyS0 ip=10.0.7.{octet}::10.0.7.1:255.255.255.0"]),
                                stdout=o, stderr=e, stdin=subprocess.DEVNULL)
        try:
            up = wait_console(out, b"skiff-testguest: network ready", proc)
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        ended = time.monotonic()
    log = open(err, "rb").read().decode(errors="replace")
    m = re.search(r"guest boot doorbell: ([0-9.]+) ms after skiff started", log)
    return {"run_doorbell": float(m.group(1)) if m else None, "up": (up - t0) * 1e3,
            "life": (ended - t0) * 1e3, "status": proc.returncode}


def creations_per_second(life, args, workdir, lives, parallel):
    """Complete VM lives per second with `parallel` at a time."""
    counter = iter(range(100000))
    lock = threading.Lock()
    failures = []

    def worker(quota):
        for _ in range(quota):
            with lock:
                index = next(counter)
            try:
                r = life(args, 1000 + index, workdir)
                if r["status"] != 0:
                    failures.append(r)
            except Exception as error:  # noqa: BLE001 - reported below
                failures.append(str(error))

    start = time.monotonic()
    threads = [threading.Thread(target=worker, args=(lives // parallel,)) for _ in range(parallel)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - start
    if failures:
        print(f"  {len(failures)} failed lives, first: {failures[0]}", file=sys.stderr)
    done = (lives // parallel) * parallel - len(failures)
    return done / elapsed


def median(rows, key):
    values = [r[key] for r in rows if r.get(key) is not None]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--lives", type=int, default=20, help="VM lives per creations/s figure")
    parser.add_argument("--skiff", default="build/skiff")
    parser.add_argument("--guest", default="build/guest-images/testguest.elf")
    args = parser.parse_args()
    args.skiff = os.path.abspath(args.skiff)
    args.guest = os.path.abspath(args.guest)

    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    try:
        subprocess.run(ns_argv(["ip", "link", "set", "lo", "up"]), check=True)
        with tempfile.TemporaryDirectory(prefix="skiff-bench-api-") as workdir:
            api_rows = [api_life(args, i, workdir) for i in range(args.runs)]
            run_rows = [run_life(args, i, workdir) for i in range(args.runs)]
            seq_api = creations_per_second(api_life, args, workdir, args.lives, 1)
            par_api = creations_per_second(api_life, args, workdir, args.lives, 2)
            seq_run = creations_per_second(run_life, args, workdir, args.lives, 1)
            par_run = creations_per_second(run_life, args, workdir, args.lives, 2)
    finally:
        subprocess.run(["ip", "netns", "del", NETNS], check=False)

    print(f"skiff control-API benchmark, {args.runs} runs each (medians), test guest with one tap interface")
    print(f"  API socket accepting after process start  {median(api_rows, 'api_ready'):8.2f} ms")
    print(f"  configuration PUTs (3 requests)           {median(api_rows, 'config'):8.2f} ms")
    print(f"  InstanceStart request -> 204              {median(api_rows, 'start_call'):8.2f} ms")
    print(f"  InstanceStart -> boot doorbell            {median(api_rows, 'doorbell'):8.2f} ms")
    print(f"  skiff run: process start -> boot doorbell {median(run_rows, 'run_doorbell'):8.2f} ms")
    api_up, run_up = median(api_rows, "up"), median(run_rows, "up")
    print(f"  process start -> guest network ready: API {api_up:8.2f} ms, skiff run {run_up:8.2f} ms "
          f"(API/run {api_up / run_up:.2f})")
    print(f"  VM creations/s ({args.lives} lives: start, network ready, SIGTERM, exit)")
    print(f"    API        sequential {seq_api:6.2f}/s   2 at a time {par_api:6.2f}/s   ({par_api / seq_api:.2f}x)")
    print(f"    skiff run  sequential {seq_run:6.2f}/s   2 at a time {par_run:6.2f}/s   ({par_run / seq_run:.2f}x)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
