#!/usr/bin/env bash
# Linux's own virtio-net driver against skiff, at the kernel level: the
# minimal kernel configures eth0 itself from `ip=` (IP_PNP), its /init makes
# no system call (guest user space cannot make them on some hosts), and the
# host pings the guest kernel with nothing lost: small, MTU-sized
# (-s 1472) and fragmented (-s 8000, reassembled by the guest) packets.
# usage: linux_net.sh SKIFF DISCOVERY [MODE]
#   MODE: tap (default) or vhost (the kernel's vhost-net moves the packets;
#         needs /dev/vhost-net)
#   DISCOVERY: mmio-cmdline  virtio-mmio named by virtio_mmio.device= (minimal kernel)
#              mmio-acpi     virtio-mmio found in the DSDT (kernel variant `acpi`,
#                            which has no command-line devices)
#              pci           virtio-pci with MSI-X (minimal kernel)
#              macvtap       virtio-mmio (minimal kernel) on a bridge-mode macvtap
#                            that skiff creates on one end of a veth pair; the
#                            pings come from the other end's namespace
# Kernels come from guest-images/linux/build-kernel.sh (cached), or
# $SKIFF_LINUX_DIR / $SKIFF_LINUX_ACPI_DIR.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/net_lib.sh"
source "$(dirname "$0")/linux_lib.sh"
SKIFF=$1 DISCOVERY=$2 MODE=${3:-tap}
require_kvm
require_net

case "$DISCOVERY" in
    mmio-cmdline | macvtap) kernel=$(linux_kernel minimal) transport=mmio ;;
    mmio-acpi) kernel=$(linux_kernel acpi) transport=mmio ;;
    pci) kernel=$(linux_kernel minimal) transport=pci ;;
    *) fail "unknown discovery $DISCOVERY" ;;
esac
if [ "$MODE" = vhost ]; then
    [ -c /dev/vhost-net ] || modprobe vhost_net 2>/dev/null || true
    [ -c /dev/vhost-net ] || skip "no /dev/vhost-net (modprobe vhost_net)"
fi
spin=$(linux_initramfs spin)

ns=$(make_netns a)
if [ "$DISCOVERY" = macvtap ]; then
    # skiff (in $ns) stacks its macvtap on vethA; pings come from vethB's
    # namespace.
    vm_ns=$ns
    ns=$(make_netns peer)
    in_ns "$vm_ns" ip link add vethA type veth peer name vethB
    in_ns "$vm_ns" ip link set vethB netns "$ns"
    in_ns "$vm_ns" ip link set vethA up
    in_ns "$ns" ip addr add 10.0.9.1/24 dev vethB
    in_ns "$ns" ip link set vethB up
    net="mode=macvtap,link=vethA,transport=$transport,vhost=$([ "$MODE" = vhost ] && echo on || echo off)"
else
    vm_ns=$ns
    add_tap "$ns" tap0 10.0.9.1/24
    net="mode=$MODE,ifname=tap0,transport=$transport"
fi
limit=${SKIFF_LINUX_BOOT_LIMIT:-900}
start_skiff linux "$vm_ns" --log-level debug run --kernel "$kernel" --initrd "$spin" \
    --memory 256 --net "$net" \
    --cmdline "console=ttyS0 reboot=k panic=-1 ip=10.0.9.2::10.0.9.1:255.255.255.0::eth0:off" \
    --serial stdio --timeout "$limit"
started=$SECONDS
wait_console linux 'Run /init as init process' "$limit"
echo "  /init reached after $((SECONDS - started)) s"
grep -a -E 'virtio|IP-Config|eth0|device=' "$TEST_TMP/linux.out" | sed 's/^/  console| /' | head -20
grep -a -q 'IP-Config: Complete' "$TEST_TMP/linux.out" || { show_skiff linux; fail "the kernel did not configure eth0"; }
if [ "$DISCOVERY" = mmio-acpi ]; then
    # This kernel cannot read virtio_mmio.device= (skiff passes it anyway):
    # eth0 came from the DSDT.
    grep -a -q 'ACPI: Interpreter enabled' "$TEST_TMP/linux.out" || fail "ACPI was not used"
fi
ping_ok "$ns" 10.0.9.2 20 56
ping_ok "$ns" 10.0.9.2 10 1472
ping_ok "$ns" 10.0.9.2 5 8000
stop_skiff linux
if [ "$DISCOVERY" = macvtap ]; then
    [ -z "$(in_ns "$vm_ns" ip -o link show type macvtap)" ] || fail "the macvtap outlived skiff"
fi
if [ "$MODE" = vhost ]; then
    grep -q "net0: vhost-net activated" "$TEST_TMP/linux.err" || fail "vhost-net was not activated"
    grep -h "net0: vhost-net" "$TEST_TMP/linux.err" | sed 's/^/  skiff| /'
else
    grep -q "net0: activated" "$TEST_TMP/linux.err" || fail "virtio-net was not activated"
fi
echo "PASS: Linux's virtio-net over $DISCOVERY (mode=$MODE) answered every ping"
