#!/usr/bin/env python3
"""Start-up benchmark: skiff vs qemu-system-x86_64 -M microvm on the test guest,
or (--linux) on a Linux kernel with the busybox initramfs.

For each VMM and each run it measures, from process start:
  - first console byte from the guest (the test guest prints first thing at CPL3),
  - the guest's "booted" line,
  - process exit (the guest shuts itself down),
and the VMM's peak RSS (VmHWM, sampled while it runs). skiff also reports its first
KVM_RUN and the boot doorbell (from its log) and the part of its RSS that is
guest memory, so the VMM's own overhead is peak RSS minus resident guest
memory. Prints medians and skiff/QEMU ratios. Needs /dev/kvm (run it through
tests/l1vm/run.sh on hosts without one; figures are then nested-KVM figures).

With --linux KERNEL --initrd BUSYBOX.cpio.gz (guest-images/linux/build-initramfs.sh
busybox) the guest is Linux: "first line of /init" is the initramfs's first
line, "booted" its SKIFF-BUSYBOX-READY line, after which it powers off
(skiff.poweroff on the command line): boot to user space, same kernel and
initramfs for both VMMs.

usage: bench/startup.py [--runs N] [--skiff build/skiff] [--guest build/guest-images/testguest.elf]
                        [--linux KERNEL --initrd INITRD] [--memory MiB]
"""
import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time


def peak_rss_kib(pid):
    """VmHWM of a running process (its own image's peak, unlike ru_maxrss,
    which keeps the pre-exec peak of the forking Python)."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def run_once(argv, booted_marker, init_marker=None):
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
    first_byte = None
    booted = None
    init_line = None
    out = b""
    rss = [None]
    stop = threading.Event()

    def sample():  # VmHWM only grows: the last reading before exit is the peak
        while not stop.is_set():
            value = peak_rss_kib(proc.pid)
            if value is not None:
                rss[0] = value
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    while True:
        chunk = proc.stdout.read1(4096)
        now = time.monotonic()
        if not chunk:
            break
        if first_byte is None:
            first_byte = now - start
        out += chunk
        if booted is None and booted_marker in out:
            booted = now - start
        if init_line is None and init_marker and init_marker in out:
            init_line = now - start
    err = proc.stderr.read()
    proc.wait()
    exited = time.monotonic() - start
    stop.set()
    sampler.join()
    return {
        "first_byte_ms": None if first_byte is None else first_byte * 1e3,
        "booted_ms": None if booted is None else booted * 1e3,
        "init_ms": None if init_line is None else init_line * 1e3,
        "exit_ms": exited * 1e3,
        "rss_kib": rss[0],
        "status": proc.returncode,
        "stderr": err.decode(errors="replace"),
        "stdout": out.decode(errors="replace"),
    }


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else float("nan")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--skiff", default="build/skiff")
    parser.add_argument("--guest", default="build/guest-images/testguest.elf")
    parser.add_argument("--memory", type=int, default=None, help="MiB (default 64, with --linux 256)")
    parser.add_argument("--linux", help="a Linux kernel image instead of the test guest")
    parser.add_argument("--initrd", help="with --linux: the busybox initramfs")
    args = parser.parse_args()
    if bool(args.linux) != bool(args.initrd):
        parser.error("--linux and --initrd go together")
    memory = args.memory or (256 if args.linux else 64)
    marker, init_marker = b"skiff-testguest: booted", None
    guest_args = ["--kernel", args.guest]
    qemu_guest = ["-kernel", args.guest]
    if args.linux:
        marker, init_marker = b"SKIFF-BUSYBOX-READY", b"skiff-init: start"
        cmdline = "console=ttyS0 reboot=k panic=-1 skiff.noshell skiff.poweroff"
        guest_args = ["--kernel", args.linux, "--initrd", args.initrd, "--cmdline", cmdline]
        qemu_guest = ["-kernel", args.linux, "-initrd", args.initrd, "-append", cmdline]

    skiff_argv = [args.skiff, "--log-level", "debug", "run", *guest_args,
                  "--memory", str(memory), "--serial", "stdio"]
    qemu = shutil.which("qemu-system-x86_64")
    qemu_argv = [qemu, "-M", "microvm", "-accel", "kvm", "-cpu", "host", "-m", str(memory),
                 "-smp", "1", "-nodefaults", "-no-user-config", "-nographic", "-no-reboot",
                 "-serial", "stdio", *qemu_guest] if qemu else None

    results = {"skiff": [], "qemu": []}
    for _ in range(args.runs):
        r = run_once(skiff_argv, marker, init_marker)
        if r["status"] != 0 or r["booted_ms"] is None:
            print("skiff run failed:\n" + r["stderr"] + r["stdout"], file=sys.stderr)
            return 1
        m = re.search(r"first KVM_RUN: ([0-9.]+) ms", r["stderr"])
        r["first_run_ms"] = float(m.group(1)) if m else None
        m = re.search(r"guest boot doorbell: ([0-9.]+) ms", r["stderr"])
        r["doorbell_ms"] = float(m.group(1)) if m else None
        m = re.search(r"peak RSS ([0-9]+) KiB, guest memory resident ([0-9]+) KiB, "
                      r"anonymous ([0-9]+) KiB, file-backed ([0-9]+) KiB", r["stderr"])
        r["overhead_kib"] = int(m.group(1)) - int(m.group(2)) if m else None
        r["own_anon_kib"] = int(m.group(3)) - int(m.group(2)) if m else None
        r["libraries_kib"] = int(m.group(4)) if m else None
        results["skiff"].append(r)
        if qemu_argv:
            q = run_once(qemu_argv, marker, init_marker)
            if q["booted_ms"] is None:
                print("qemu run did not boot the guest:\n" + q["stderr"] + q["stdout"], file=sys.stderr)
                qemu_argv = None
            else:
                results["qemu"].append(q)

    s = results["skiff"]
    guest = f"Linux {os.path.basename(args.linux)} + busybox" if args.linux else "test guest"
    print(f"start-up, {guest}, {memory} MiB, 1 vCPU, median of {len(s)} runs (ms from process start)")
    print(f"{'metric':34} {'skiff':>10} {'qemu microvm':>14} {'qemu/skiff':>11}")
    rows = [("first KVM_RUN", "first_run_ms"), ("boot doorbell", "doorbell_ms"),
            ("first guest console byte", "first_byte_ms"), ("first line of /init", "init_ms"),
            ("'booted' / READY line", "booted_ms"),
            ("process exit (guest shut down)", "exit_ms")]
    q = results["qemu"]
    for label, key in rows:
        sv = median(r.get(key) for r in s)
        qv = median(r.get(key) for r in q) if q and key in q[0] else float("nan")
        ratio = qv / sv if sv == sv and qv == qv and sv > 0 else float("nan")
        print(f"{label:34} {sv:10.2f} {qv:14.2f} {ratio:10.1f}x")
    s_rss = median(r["rss_kib"] for r in s)
    q_rss = median(r["rss_kib"] for r in q) if q else float("nan")
    print(f"{'peak RSS (KiB)':34} {s_rss:10.0f} {q_rss:14.0f} {q_rss / s_rss:10.1f}x")
    print(f"{'skiff peak RSS - guest memory (KiB)':34} {median(r['overhead_kib'] for r in s):10.0f}")
    print(f"{'  of which shared libraries (KiB)':34} {median(r['libraries_kib'] for r in s):10.0f}")
    print(f"{'  skiff anonymous, not guest (KiB)':34} {median(r['own_anon_kib'] for r in s):10.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
