#!/usr/bin/env python3
"""Network benchmark: skiff's in-process virtio-net (over virtio-mmio and
virtio-pci) against QEMU's userspace virtio-net (`-M microvm`, `-netdev
tap,vhost=off`), all running skiff's test guest, in the same run.

For each VMM it measures, on a tap in a network namespace of its own:
  - guest -> host: the guest floods UDP datagrams (testguest.mode=flood);
    the rate is frames the tap received from the VMM per second;
  - host -> guest: the host sends UDP as fast as it can (bench/udp_blast.c,
    sendmmsg) at the guest in sink mode; the rate is frames the VMM read
    from the tap per second (it reads only into guest buffers);
  - ping round-trip time (host -> guest, 200 pings, 10 ms apart);
at 64-byte frames (18-byte UDP payload) and 1500-byte IP packets (1472),
and prints packets/s, Gbit/s (Ethernet frame bits) and the skiff/QEMU
ratios. Needs root, /dev/kvm and qemu-system-x86_64 (run it through
tests/l1vm/run.sh on hosts without KVM: the figures are then nested KVM).

usage: bench/net.py [--seconds S] [--skiff build/skiff] [--guest build/guest-images/testguest.elf]
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

NETNS = f"skiff-bench-{os.getpid()}"
HOST_IP, GUEST_IP = "10.0.7.1", "10.0.7.2"
GUEST_MAC = "02:00:00:00:07:02"
SIZES = [("64 B", 18, 64), ("1500 B", 1472, 1514)]  # label, UDP payload, Ethernet frame bytes


def ns(*argv, **kwargs):
    return subprocess.run(["ip", "netns", "exec", NETNS, *argv], check=True, **kwargs)


def tap_counters():
    out = ns("cat", "/proc/net/dev", capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.strip().startswith("tap0:"):
            fields = line.split(":", 1)[1].split()
            return {"rx_packets": int(fields[1]), "tx_packets": int(fields[9]), "tx_dropped": int(fields[11])}
    raise RuntimeError("tap0 not found")


class Guest:
    """One VMM running the test guest inside the namespace."""

    def __init__(self, kind, argv, workdir):
        self.kind = kind
        self.console = os.path.join(workdir, f"{kind}.console")
        self.log = open(os.path.join(workdir, f"{kind}.log"), "w")
        argv = [a.replace("@CONSOLE@", self.console) for a in argv]
        self.proc = subprocess.Popen(["ip", "netns", "exec", NETNS, *argv], stdin=subprocess.DEVNULL,
                                     stdout=self.log, stderr=subprocess.STDOUT)

    def wait_for(self, pattern, seconds=120):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited early; see {self.log.name}")
            try:
                with open(self.console, errors="replace") as console:
                    if re.search(pattern, console.read(), re.M):
                        return
            except FileNotFoundError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.kind}: no /{pattern}/ on the console within {seconds} s")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()


def vmm_argv(kind, skiff, guest, cmdline):
    if kind.startswith("skiff"):
        transport = kind.split("-")[1]
        return [skiff, "--log-level", "warn", "run", "--kernel", guest, "--memory", "64",
                "--net", f"mode=tap,ifname=tap0,transport={transport},mac={GUEST_MAC}",
                "--serial", "file:@CONSOLE@", "--cmdline", cmdline]
    return ["qemu-system-x86_64", "-M", "microvm,acpi=off", "-accel", "kvm", "-cpu", "host", "-m", "64",
            "-nodefaults", "-no-user-config", "-nographic", "-display", "none",
            "-serial", "file:@CONSOLE@", "-kernel", guest, "-append", cmdline,
            "-netdev", "tap,id=n0,ifname=tap0,script=no,downscript=no,vhost=off",
            "-device", f"virtio-net-device,netdev=n0,mac={GUEST_MAC}",
            "-global", "virtio-mmio.force-legacy=false"]


def measure_window(seconds, counter):
    before = tap_counters()[counter]
    start = time.monotonic()
    time.sleep(seconds)
    after = tap_counters()[counter]
    return (after - before) / (time.monotonic() - start)


def bench_vmm(kind, args, workdir, blaster):
    ip = f"ip={GUEST_IP}::{HOST_IP}:255.255.255.0"
    results = {}
    # guest -> host, one boot per size (flood mode is chosen at boot)
    for label, payload, frame in SIZES:
        cmdline = (f"{ip} testguest.mode=flood testguest.flood_dst={HOST_IP}:9 "
                   f"testguest.flood_size={payload} testguest.report_every=1000000000")
        guest = Guest(kind, vmm_argv(kind, args.skiff, args.guest, cmdline), workdir)
        try:
            guest.wait_for(r"flood dst=")
            time.sleep(1)  # warm-up
            results[("tx", label)] = measure_window(args.seconds, "rx_packets")
        finally:
            guest.stop()
    # host -> guest and latency, on one boot in sink mode
    cmdline = f"{ip} testguest.mode=sink testguest.report_every=1000000000"
    guest = Guest(kind, vmm_argv(kind, args.skiff, args.guest, cmdline), workdir)
    try:
        guest.wait_for(r"network ready")
        # Warm-up (ARP is static; the first frames may meet a guest still setting up).
        subprocess.run(["ip", "netns", "exec", NETNS, "ping", "-q", "-c", "3", "-W", "5", GUEST_IP],
                       stdout=subprocess.DEVNULL)
        out = ns("ping", "-q", "-c", "200", "-i", "0.01", GUEST_IP, capture_output=True, text=True).stdout
        match = re.search(r"= ([\d.]+)/([\d.]+)/([\d.]+)/([\d.]+) ms", out)
        loss = re.search(r"([\d.]+)% packet loss", out).group(1)
        results[("rtt", "avg")] = float(match.group(2)) * 1000
        results[("rtt", "min")] = float(match.group(1)) * 1000
        results[("rtt", "loss")] = float(loss)
        for label, payload, frame in SIZES:
            before = tap_counters()
            start = time.monotonic()
            ns(blaster, GUEST_IP, "9", str(payload), str(args.seconds), stdout=subprocess.DEVNULL)
            elapsed = time.monotonic() - start
            after = tap_counters()
            results[("rx", label)] = (after["tx_packets"] - before["tx_packets"]) / elapsed
    finally:
        guest.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--skiff", default="build/skiff")
    parser.add_argument("--guest", default="build/guest-images/testguest.elf")
    parser.add_argument("--vmms", default="skiff-mmio,skiff-pci,qemu")
    args = parser.parse_args()
    args.skiff = os.path.abspath(args.skiff)
    args.guest = os.path.abspath(args.guest)
    if os.geteuid() != 0 or not os.path.exists("/dev/kvm"):
        sys.exit("bench/net.py needs root and /dev/kvm (tests/l1vm/run.sh -- bench/net.py)")
    workdir = tempfile.mkdtemp(prefix="skiff-bench-net-")
    blaster = os.path.join(workdir, "udp_blast")
    subprocess.run(["cc", "-O2", "-o", blaster, os.path.join(os.path.dirname(__file__), "udp_blast.c")], check=True)
    subprocess.run(["ip", "netns", "add", NETNS], check=True)
    all_results = {}
    try:
        ns("ip", "link", "set", "lo", "up")
        ns("sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
        ns("ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
        ns("ip", "addr", "add", f"{HOST_IP}/24", "dev", "tap0")
        ns("ip", "link", "set", "tap0", "up")
        ns("ip", "neigh", "replace", GUEST_IP, "lladdr", GUEST_MAC, "dev", "tap0")
        for kind in args.vmms.split(","):
            if kind == "qemu" and not shutil.which("qemu-system-x86_64"):
                print("qemu-system-x86_64 not found: QEMU skipped")
                continue
            print(f"running {kind} ...", flush=True)
            all_results[kind] = bench_vmm(kind, args, workdir, blaster)
            print("  " + ", ".join(f"{k[0]} {k[1]}: {v:.1f}" for k, v in all_results[kind].items()), flush=True)
    finally:
        subprocess.run(["ip", "netns", "del", NETNS])
        shutil.rmtree(workdir, ignore_errors=True)

    print()
    header = f"{'':28}" + "".join(f"{kind:>14}" for kind in all_results)
    if "qemu" in all_results:
        header += "".join(f"{kind + '/qemu':>18}" for kind in all_results if kind != "qemu")
    print(header)
    rows = []
    for direction, name in (("tx", "guest->host"), ("rx", "host->guest")):
        for label, payload, frame in SIZES:
            rows.append((f"{name} {label} kpps", (direction, label), 1e-3, True))
            rows.append((f"{name} {label} Gbit/s", (direction, label), frame * 8e-9, True))
    rows.append(("ping rtt avg (us)", ("rtt", "avg"), 1, False))
    rows.append(("ping rtt min (us)", ("rtt", "min"), 1, False))
    rows.append(("ping loss (%)", ("rtt", "loss"), 1, None))
    for title, key, scale, higher_better in rows:
        line = f"{title:28}" + "".join(f"{all_results[k][key] * scale:14.3f}" for k in all_results)
        if "qemu" in all_results and higher_better is not None:
            base = all_results["qemu"][key]
            for kind in all_results:
                if kind != "qemu":
                    value = all_results[kind][key]
                    ratio = (value / base) if base else float("nan")
                    line += f"{ratio:17.2f}x"
        print(line)
    print("\n(ratios: skiff/QEMU; above 1 is better for rates, below 1 is better for latency)")


if __name__ == "__main__":
    main()
