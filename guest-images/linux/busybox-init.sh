#!/bin/sh
# /init of the "busybox" initramfs (build-initramfs.sh busybox): mounts the
# kernel file systems, loads the virtio modules packed into the image for the
# running kernel (none for kernels with the drivers built in), configures the
# network from a static `ip=` when the kernel did not, prints the marker line
# and runs a shell on the console. When the shell exits the guest reboots
# (with `reboot=k` that ends the VM); `poweroff` powers it off (ACPI).
#
# Kernel parameters read here:
#   ip=CLIENT:SERVER:GATEWAY:NETMASK:HOSTNAME:DEVICE:AUTOCONF   (static only)
#   skiff.noshell   keep the guest up without reading the console
#   skiff.poweroff  power off right after the marker line (boot benchmarks)
#   skiff.iperf3    start an iperf3 server (bench/net_cpu.py packs iperf3)
# The first line user space prints: boot benchmarks time it.
echo "skiff-init: start"
/bin/busybox mkdir -p /sbin /usr/bin /usr/sbin
/bin/busybox --install -s
export PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root

mount -t proc proc /proc
mounted() { grep -q "^[^ ]* $1 " /proc/mounts; }
mounted /sys || mount -t sysfs sysfs /sys
mounted /dev || mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /tmp

say() { echo "skiff-init: $*"; }

modules=/lib/modules/$(uname -r)
if [ -f "$modules/load-order" ]; then
    while read -r module; do
        insmod "$modules/$module" || say "insmod $module failed"
    done <"$modules/load-order"
fi

cmdline=$(cat /proc/cmdline)
ip_parameter=
shell=yes
exit_now=no
iperf3_server=no
for word in $cmdline; do
    case "$word" in
        ip=*) ip_parameter=${word#ip=} ;;
        skiff.noshell) shell=no ;;
        skiff.poweroff) exit_now=yes ;;
        skiff.iperf3) iperf3_server=yes ;;
    esac
done

# The kernel handles ip= itself when built with IP_PNP (the minimal kernel);
# Debian's is not, so do what it would have done for a static address.
# shellcheck disable=SC3043 # busybox ash has local
configure_network() {
    local client gateway netmask hostname device
    IFS=: read -r client _ gateway netmask hostname device _ <<EOF
$1
EOF
    device=${device:-eth0}
    case "$client" in
        ''|off|none|dhcp|bootp|rarp|any|on|both) return 0 ;;
    esac
    [ -e "/sys/class/net/$device" ] || { say "ip=: no device $device"; return 0; }
    if ip -4 addr show dev "$device" | grep -q 'inet '; then
        return 0  # the kernel configured it already
    fi
    [ -n "$hostname" ] && hostname "$hostname"
    ifconfig "$device" "$client" ${netmask:+netmask "$netmask"} up
    [ -n "$gateway" ] && route add default gw "$gateway" dev "$device"
    say "configured $device as $client"
}
ifconfig lo 127.0.0.1 up
[ -n "$ip_parameter" ] && configure_network "$ip_parameter"

for device in /sys/class/net/*; do
    name=${device##*/}
    [ "$name" = lo ] && continue
    say "$name $(cat "$device/address") $(ip -4 -o addr show dev "$name" | awk '{print $4}')"
done
if [ "$iperf3_server" = yes ]; then
    iperf3 -s -D || say "iperf3 server failed to start"
fi
echo "SKIFF-BUSYBOX-READY $(uname -r) cpus=$(grep -c ^processor /proc/cpuinfo)"

# busybox's poweroff, reboot and halt signal PID 1 (USR2, TERM, USR1); the
# kernel delivers only signals PID 1 has a handler for. A kernel without
# ACPI cannot power off (it would halt and leave the VM running): there,
# poweroff resets, which ends the VM as well (reboot=k).
power_off() {
    if [ -d /sys/firmware/acpi/tables ]; then poweroff -f; else reboot -f; fi
}
[ "$exit_now" = no ] || power_off
trap power_off USR2 USR1
trap 'reboot -f' TERM
# The shell runs in the background so that `wait` returns to the traps.
if [ "$shell" = yes ]; then
    setsid cttyhack sh </dev/console >/dev/console 2>&1 &
else
    (while :; do sleep 3600; done) &
fi
wait $!
reboot -f
