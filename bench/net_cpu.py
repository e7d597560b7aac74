#!/usr/bin/env python3
"""What each VMM spends to move a gigabyte: skiff's network modes against
QEMU microvm's userspace virtio-net and vhost-net, all in the same run.

Every VMM boots the same Linux guest: Debian's kernel (its own virtio
modules) with the busybox initramfs plus Debian's iperf3, which the guest
starts as a server (skiff.iperf3). Under nested TCG the guest's emulated CPU
limits throughput, so throughput alone cannot show what the VMM costs; the
figure that can is the VMM's own CPU time per gigabyte delivered:
  - the VMM's threads other than its vCPU threads (those carry the guest's
    own time): skiff-vcpuN, QEMU's "CPU N/KVM";
  - plus the kernel's vhost-PID worker threads in vhost modes;
read from /proc/PID/task/TID/schedstat (nanoseconds on a CPU) around each
iperf3 run. Tests, each --seconds long, from the host's side of the link:
TCP guest->host and host->guest with 1 and 4 streams, UDP with 64-byte
payloads both ways (iperf3 -b 0), and ping. All VMs stay up; the rounds
visit them in turn (interleaved), and the tables give medians with their
spread ((max - min) / median) and the ratios the project targets.

Configurations: skiff tap over mmio and pci, vhost over pci, macvtap
in-process and vhost=on (over pci); QEMU -M microvm with -netdev tap
vhost=off and vhost=on (virtio-net-device over mmio).

Needs root, /dev/kvm, qemu-system-x86_64 and iperf3 (installed when
missing). Without a usable /dev/kvm, run it in the L1 VM:
  tests/l1vm/run.sh --memory 4096 -- bench/net_cpu.py
usage: bench/net_cpu.py [--rounds 5] [--seconds 5] [--configs NAME,...]
"""
import argparse
import glob
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PREFIX = f"skiffcpu{os.getpid()}"
CONFIGS = [
    ("skiff tap/mmio", "skiff", {"mode": "tap", "transport": "mmio"}),
    ("skiff tap/pci", "skiff", {"mode": "tap", "transport": "pci"}),
    ("skiff vhost/pci", "skiff", {"mode": "vhost", "transport": "pci"}),
    ("skiff macvtap", "skiff", {"mode": "macvtap", "transport": "pci"}),
    ("skiff macvtap+vhost", "skiff", {"mode": "macvtap", "transport": "pci", "vhost": True}),
    ("qemu tap", "qemu", {"vhost": False}),
    ("qemu vhost", "qemu", {"vhost": True}),
]
# name, iperf3 arguments, UDP?
TESTS = [
    ("TCP guest->host, 1 stream", ["-R"], False),
    ("TCP host->guest, 1 stream", [], False),
    ("TCP guest->host, 4 streams", ["-R", "-P", "4"], False),
    ("TCP host->guest, 4 streams", ["-P", "4"], False),
    ("UDP 64 B guest->host", ["-R", "-u", "-b", "0", "-l", "64"], True),
    ("UDP 64 B host->guest", ["-u", "-b", "0", "-l", "64"], True),
]
VCPU_THREAD = re.compile(r"^(skiff-vcpu\d+|CPU \d+/KVM)$")


def run(*argv, **kwargs):
    kwargs.setdefault("check", True)
    return subprocess.run(argv, **kwargs)


def in_ns(namespace, *argv, **kwargs):
    return run("ip", "netns", "exec", namespace, *argv, **kwargs)


class Link:
    """The host's side of one VM's network: a tap in the VM's namespace, or a
    veth pair whose far end (another namespace) carries a macvtap's traffic."""

    def __init__(self, index, macvtap):
        self.vm_ns = f"{PREFIX}vm{index}"
        self.client_ns = f"{PREFIX}host{index}" if macvtap else self.vm_ns
        self.host_ip, self.guest_ip = f"10.0.{40 + index}.1", f"10.0.{40 + index}.2"
        self.mac = f"02:00:00:00:{40 + index:02x}:02"
        self.namespaces = sorted({self.vm_ns, self.client_ns})
        try:
            self.create(macvtap)
        except subprocess.CalledProcessError:
            self.remove()
            raise

    def create(self, macvtap):
        for namespace in self.namespaces:
            run("ip", "netns", "add", namespace)
            in_ns(namespace, "ip", "link", "set", "lo", "up")
        if macvtap:
            in_ns(self.vm_ns, "ip", "link", "add", "vethA", "type", "veth", "peer", "name", "vethB")
            in_ns(self.vm_ns, "ip", "link", "set", "vethB", "netns", self.client_ns)
            in_ns(self.vm_ns, "ip", "link", "set", "vethA", "up")
            host_dev = "vethB"
        else:
            in_ns(self.vm_ns, "ip", "tuntap", "add", "dev", "tap0", "mode", "tap")
            host_dev = "tap0"
        in_ns(self.client_ns, "ip", "addr", "add", f"{self.host_ip}/24", "dev", host_dev)
        in_ns(self.client_ns, "ip", "link", "set", host_dev, "up")

    def remove(self):
        for namespace in self.namespaces:
            subprocess.run(["ip", "netns", "del", namespace], stderr=subprocess.DEVNULL)


def vmm_argv(kind, options, link, kernel, initramfs, console):
    cmdline = (f"console=ttyS0 reboot=k panic=-1 skiff.noshell skiff.iperf3 "
               f"ip={link.guest_ip}::{link.host_ip}:255.255.255.0::eth0:off")
    if kind == "skiff":
        net = f"mode={options['mode']},transport={options['transport']},mac={link.mac}"
        net += ",link=vethA" if options["mode"] == "macvtap" else ",ifname=tap0"
        net += ",vhost=on" if options.get("vhost") else ""
        return [os.path.join(REPO, "build/skiff"), "--log-level", "warn", "run", "--kernel", kernel,
                "--initrd", initramfs, "--memory", "256", "--net", net,
                "--serial", f"file:{console}", "--cmdline", cmdline]
    vhost = "on" if options["vhost"] else "off"
    # debug-threads names the vCPU threads "CPU N/KVM" (otherwise they share
    # the process's name and their guest time would count as QEMU's).
    return ["qemu-system-x86_64", "-name", "bench,debug-threads=on", "-M", "microvm",
            "-accel", "kvm", "-cpu", "host", "-m", "256",
            "-smp", "1", "-nodefaults", "-no-user-config", "-display", "none",
            "-serial", f"file:{console}", "-kernel", kernel, "-initrd", initramfs, "-append", cmdline,
            "-netdev", f"tap,id=n0,ifname=tap0,script=no,downscript=no,vhost={vhost}",
            "-device", f"virtio-net-device,netdev=n0,mac={link.mac}"]


class Vm:
    def __init__(self, index, name, kind, options, kernel, initramfs, workdir):
        self.name = name
        self.link = Link(index, options.get("mode") == "macvtap")
        self.vhost_workers = []  # found once the guest is up (find_vhost_workers)
        self.console = os.path.join(workdir, f"vm{index}.console")
        self.log = open(os.path.join(workdir, f"vm{index}.log"), "w")
        argv = vmm_argv(kind, options, self.link, kernel, initramfs, self.console)
        try:
            # ip netns exec execs the VMM: the child's PID is the VMM's.
            self.proc = subprocess.Popen(["ip", "netns", "exec", self.link.vm_ns, *argv],
                                         stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT)
        except OSError:
            self.log.close()
            self.link.remove()
            raise

    def wait_ready(self, seconds):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.proc.returncode}; see {self.log.name}")
            if os.path.exists(self.console):
                with open(self.console, errors="replace") as console:
                    if "SKIFF-BUSYBOX-READY" in console.read():
                        return
            time.sleep(0.5)
        raise RuntimeError(f"{self.name}: no READY line within {seconds} s; see {self.console}")

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        self.link.remove()


def thread_ns(pid):
    """{tid: (comm, nanoseconds on a CPU)} for every thread of pid."""
    threads = {}
    for task in glob.glob(f"/proc/{pid}/task/*"):
        try:
            with open(f"{task}/comm") as comm, open(f"{task}/schedstat") as stat:
                threads[os.path.basename(task)] = (comm.read().strip(), int(stat.read().split()[0]))
        except (FileNotFoundError, ProcessLookupError):
            pass  # the thread exited between listing and reading
    return threads


def find_vhost_workers(pid):
    """The kernel's vhost worker threads of VMM pid: kernel threads named
    vhost-PID (Linux < 6.4). On newer kernels they are threads of the VMM
    itself, counted with its own threads, so they are left out here."""
    own = thread_ns(pid)
    workers = []
    for comm_path in glob.glob("/proc/[0-9]*/comm"):
        try:
            with open(comm_path) as comm:
                name = comm.read().strip()
        except (FileNotFoundError, ProcessLookupError):
            continue
        worker = comm_path.split("/")[2]
        if name == f"vhost-{pid}" and worker not in own:
            workers.append(worker)
    return workers


def vmm_cpu_ns(vm):
    """(VMM CPU ns outside its vCPU threads, including vhost workers; vCPU ns)."""
    vmm = vcpu = 0
    for comm, ns in thread_ns(vm.proc.pid).values():
        if VCPU_THREAD.match(comm):
            vcpu += ns
        else:
            vmm += ns
    for worker in vm.vhost_workers:
        vmm += sum(ns for _, ns in thread_ns(worker).values())
    return vmm, vcpu


def iperf3(vm, arguments, seconds):
    out = in_ns(vm.link.client_ns, "timeout", str(seconds + 60), "iperf3", "-c", vm.link.guest_ip,
                "-t", str(seconds), "-J", *arguments, capture_output=True, text=True, check=False).stdout
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        return {"error": out.strip()[-200:] or "no output"}


def delivered(report, udp):
    """(bytes the receiver got, packets or None, seconds)."""
    end = report["end"]
    if not udp:
        return end["sum_received"]["bytes"], None, end["sum_received"]["seconds"]
    if "packets" in end.get("sum_received", {}):  # iperf3 versions that report the receiver's count
        packets = end["sum_received"]["packets"]
    else:  # the sender's count less what the receiver reported lost
        packets = end["sum"]["packets"] - end["sum"].get("lost_packets", 0)
    return packets * 64, packets, end["sum"]["seconds"]


def measure(vm, arguments, udp, seconds):
    before, vcpu_before = vmm_cpu_ns(vm)
    report = iperf3(vm, arguments, seconds)
    after, vcpu_after = vmm_cpu_ns(vm)
    if "error" in report:
        return {"error": report["error"]}
    moved, packets, elapsed = delivered(report, udp)
    cpu = (after - before) / 1e9
    return {
        "mbit": moved * 8 / elapsed / 1e6,
        "kpps": packets / elapsed / 1e3 if packets else None,
        "cpu_per_gb": cpu / (moved / 1e9) if moved else None,
        "us_per_packet": cpu * 1e6 / packets if packets else None,
        "vcpu_share": (vcpu_after - vcpu_before) / 1e9 / elapsed,
    }


def ping_ms(vm):
    out = in_ns(vm.link.client_ns, "ping", "-q", "-c", "20", "-i", "0.05", "-W", "5", vm.link.guest_ip,
                capture_output=True, text=True, check=False).stdout
    match = re.search(r"= ([\d.]+)/([\d.]+)/", out)
    return float(match.group(2)) if match else None


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return None, None
    middle = statistics.median(values)
    return middle, ((max(values) - min(values)) / middle * 100 if middle else 0)


def cell(values, fmt):
    middle, width = spread(values)
    return f"{'-':>17}" if middle is None else f"{format(middle, fmt):>10} ±{width:3.0f}% "


def good_runs(results, name, test):
    return [r for r in results.get((name, test), []) if "error" not in r]


def print_tables(vms, results, pings):
    for test, _, udp in TESTS:
        rate, cost = ("kpps", "us_per_packet") if udp else ("mbit", "cpu_per_gb")
        unit = "VMM CPU us/packet" if udp else "VMM CPU s/GB"
        print(f"\n{test:28} {'kpps' if udp else 'Mbit/s':>17} {unit:>17} {'vCPU busy %':>17}")
        for vm in vms:
            runs = good_runs(results, vm.name, test)
            failed = len(results[(vm.name, test)]) - len(runs)
            print(f"  {vm.name:26} {cell([r[rate] for r in runs], '.1f')}"
                  f"{cell([r[cost] for r in runs], '.3f')}"
                  f"{cell([r['vcpu_share'] * 100 for r in runs], '.0f')}"
                  + (f"  ({failed} runs failed)" if failed else ""))
    print(f"\n{'ping, 20 x 50 ms':28} {'avg rtt ms':>17}")
    for vm in vms:
        print(f"  {vm.name:26} {cell(pings[vm.name], '.2f')}")


def ratio_line(results, numerator, denominator, target):
    line = f"  {numerator + ' / ' + denominator:44}"
    for test, _, udp in TESTS:
        key = "us_per_packet" if udp else "cpu_per_gb"
        top = spread([r[key] for r in good_runs(results, numerator, test)])[0]
        bottom = spread([r[key] for r in good_runs(results, denominator, test)])[0]
        line += f" {top / bottom:6.2f}" if top and bottom else f" {'-':>6}"
    return line + f"   (target {target})"


def print_ratios(results):
    print("\nVMM CPU per unit moved, ratios of medians (columns: the tests above, in order)")
    print(ratio_line(results, "skiff tap/pci", "qemu tap", "<= 0.67"))
    print(ratio_line(results, "skiff tap/mmio", "qemu tap", "<= 0.67"))
    print(ratio_line(results, "skiff vhost/pci", "qemu vhost", "<= 1.10"))
    print(ratio_line(results, "skiff vhost/pci", "skiff tap/pci", "<= 0.33"))
    print(ratio_line(results, "skiff macvtap+vhost", "skiff macvtap", "<= 0.33"))


def boot_all(vms, chosen, kernel, initramfs, workdir):
    for index, (name, kind, options) in enumerate(chosen):
        print(f"booting {name} ...", flush=True)
        vm = Vm(index, name, kind, options, kernel, initramfs, workdir)
        vms.append(vm)
        start = time.monotonic()
        vm.wait_ready(900)
        vm.vhost_workers = find_vhost_workers(vm.proc.pid)
        print(f"  ready after {time.monotonic() - start:.0f} s; ping {ping_ms(vm)} ms", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=int, default=5)
    parser.add_argument("--configs", help="comma-separated names (default: all): "
                        + ", ".join(name for name, _, _ in CONFIGS))
    args = parser.parse_args()
    if os.geteuid() != 0 or not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("bench/net_cpu.py needs root and /dev/kvm: run it as "
                 "tests/l1vm/run.sh --memory 4096 -- bench/net_cpu.py")
    run(os.path.join(REPO, "scripts/install-deps.sh"), "--packages", "iperf3", "qemu-system-x86")
    wanted = args.configs.split(",") if args.configs else [name for name, _, _ in CONFIGS]
    chosen = [c for c in CONFIGS if c[0] in wanted]
    if len(chosen) != len(wanted):
        sys.exit(f"unknown configuration in {wanted}")
    kernel = sorted(glob.glob("/boot/vmlinuz-*-amd64"))[-1]
    workdir = tempfile.mkdtemp(prefix="skiff-net-cpu-")
    initramfs = os.path.join(workdir, "busybox-iperf3.cpio.gz")
    run(os.path.join(REPO, "guest-images/linux/build-initramfs.sh"), "busybox", initramfs, "iperf3")
    vms, results, pings = [], {}, {}
    try:
        boot_all(vms, chosen, kernel, initramfs, workdir)
        for round_number in range(1, args.rounds + 1):
            print(f"round {round_number} of {args.rounds}", flush=True)
            for vm in vms:
                for test, arguments, udp in TESTS:
                    outcome = measure(vm, arguments, udp, args.seconds)
                    results.setdefault((vm.name, test), []).append(outcome)
                pings.setdefault(vm.name, []).append(ping_ms(vm))
                print(f"  {vm.name}: " + ", ".join(
                    f"{r['mbit']:.0f}" if "error" not in r else "error"
                    for r in (results[(vm.name, t)][-1] for t, _, _ in TESTS)) + " Mbit/s", flush=True)
    finally:
        for vm in vms:
            vm.stop()
    print(f"\nVMM CPU per data moved: {os.path.basename(kernel)} + busybox/iperf3, 1 vCPU, 256 MiB, "
          f"{args.rounds} rounds x {args.seconds} s, medians (± spread)")
    print_tables(vms, results, pings)
    print_ratios(results)
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
