#!/bin/busybox sh
# PID 1 of the L1 VM that tests/l1vm/run.sh boots (busybox ash, inside the
# initramfs). It loads KVM, 9p and networking modules, rebuilds the host's
# view (host root read-only at /host, the shares read-write at their own
# paths, fresh /tmp, /run, /dev), runs the command chrooted in /host with its
# stdout on ttyS1 and stderr on ttyS2, and reports its exit status in the
# file /ctl/status before powering off. Its own messages go to the kernel
# console (ttyS0), which run.sh keeps in a log and shows only on failure.

/bin/busybox mount -t devtmpfs devtmpfs /dev
exec </dev/null >/dev/console 2>&1
/bin/busybox --install -s /bin
export PATH=/bin

# run.sh recognises this prefix in the console log as "setup failed".
fail() {
    echo "l1vm-init: FAILED: $*"
    poweroff -f
    sleep 60
}

mount -t proc proc /proc || fail "mount /proc"
mount -t sysfs sysfs /sys || fail "mount /sys"

# Progress with the kernel's uptime, for run.sh --verbose.
mark() {
    read -r uptime _ </proc/uptime
    echo "l1vm-init: [$uptime] $*"
}
mark "init started"

# Written by run.sh at build time, dependencies first: "R path" must load,
# "O path" is for networking tests and may be absent from a kernel.
load_modules() {
    wanted_kind=$1
    while read -r kind module; do
        [ "$kind" = "$wanted_kind" ] || continue
        # KVM's forced-emulation prefix lets the test guest drive KVM's
        # instruction emulator (skiff's emulation-failure tests).
        params=
        case "$module" in
            */kvm.ko) params=force_emulation_prefix=1 ;;
            # Loaded after /ctl/config, with the parameters it names.
            */kvm-amd.ko) continue ;;
        esac
        # shellcheck disable=SC2086 # empty or one word
        if ! insmod "/lib/modules/$module" $params; then
            [ "$kind" = R ] && fail "insmod $module"
            echo "l1vm-init: warning: could not load optional module $module"
        fi
    done </etc/l1vm-modules
}
load_modules R
mark "required modules loaded"
# The optional ones load meanwhile on the other vCPU; waited for below.
load_modules O &
optional_modules=$!

# msize bounds each 9p message; 512000 is the most virtio transport allows.
p9="trans=virtio,version=9p2000.L,msize=512000"
mount -t 9p -o "$p9,cache=none" l1ctl /ctl || fail "mount the control share"
[ -r /ctl/config ] || fail "no /ctl/config"
kvm_amd_params='' share_count=0 stdout_tty=0 stderr_tty=0 tty_rows='' tty_cols=''
# shellcheck source=/dev/null # written by run.sh for each run
. /ctl/config
kvm_amd=$(grep -m 1 '/kvm-amd\.ko$' /etc/l1vm-modules | cut -d' ' -f2)
if [ -n "$kvm_amd" ]; then
    # shellcheck disable=SC2086 # NAME=VALUE words, checked by run.sh
    insmod "/lib/modules/$kvm_amd" $kvm_amd_params || fail "insmod $kvm_amd $kvm_amd_params"
fi
# The platform, for the record (run.sh --console-log keeps it).
echo "l1vm-init: kernel $(uname -r), kvm-amd$(for p in /sys/module/kvm_amd/parameters/*; do printf ' %s=%s' "${p##*/}" "$(cat "$p")"; done)"

[ -c /dev/kvm ] || fail "/dev/kvm did not appear after loading kvm-amd"

# The host root is read-only, so caching it (cache=loose) is safe for the
# VM's life and makes repeated exec of host binaries much faster.
mount -t 9p -o "$p9,ro,cache=loose" hostroot /host || fail "mount the host root"
mount -t proc proc /host/proc || fail "mount /host/proc"
mount -t sysfs sysfs /host/sys || fail "mount /host/sys"
mount -t cgroup2 cgroup2 /host/sys/fs/cgroup 2>/dev/null
mount -t devtmpfs devtmpfs /host/dev || fail "mount /host/dev"
mkdir -p /dev/pts /dev/shm /dev/net
ln -sf /proc/self/fd /dev/fd
ln -sf /proc/self/fd/0 /dev/stdin
ln -sf /proc/self/fd/1 /dev/stdout
ln -sf /proc/self/fd/2 /dev/stderr
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620 devpts /host/dev/pts ||
    fail "mount /host/dev/pts"
mount -t tmpfs -o mode=1777 tmpfs /host/dev/shm || fail "mount /host/dev/shm"
mount -t tmpfs -o mode=1777 tmpfs /host/tmp || fail "mount /host/tmp"
mount -t tmpfs -o mode=0755 tmpfs /host/run || fail "mount /host/run"
if [ -d /host/var/tmp ]; then
    mount -t tmpfs -o mode=1777 tmpfs /host/var/tmp || fail "mount /host/var/tmp"
fi
# Shares last: one may lie under /tmp or /run, just mounted as tmpfs.
i=1 path=''
while [ "$i" -le "$share_count" ]; do
    eval "path=\$share_$i"
    mkdir -p "/host$path" 2>/dev/null
    mount -t 9p -o "$p9,cache=mmap" "l1share$i" "/host$path" ||
        fail "mount share $path"
    i=$((i + 1))
done

wait "$optional_modules"
mark "optional modules loaded"
# What Debian's udev rules would do (devtmpfs alone leaves all to root):
# any user may open /dev/net/tun (and use the taps it owns); KVM's devices
# belong to group kvm, mode 0660 (group root where the host has no kvm).
[ -c /dev/net/tun ] && chmod 0666 /dev/net/tun
kvm_gid=$(awk -F: '$1 == "kvm" { print $3 }' /host/etc/group 2>/dev/null)
for node in /dev/kvm /dev/vhost-net /dev/vhost-vsock; do
    [ -c "$node" ] || continue
    chgrp "${kvm_gid:-0}" "$node" && chmod 0660 "$node"
done
hostname l1vm
ip link set lo up
mkdir -p /host/run/l1vm
cp /ctl/command.sh /host/run/l1vm/command.sh || fail "copy the command script"

# fds 5 and 6 hold the output ports open until the end: a tty's window size
# lives only while someone has it open, and the final stty needs them too.
exec 5>/dev/ttyS1 6>/dev/ttyS2
# Raw mode: no \n -> \r\n translation and no echo on the output ports.
stty -F /dev/ttyS1 raw -echo || fail "configure /dev/ttyS1"
stty -F /dev/ttyS2 raw -echo || fail "configure /dev/ttyS2"
if [ -n "$tty_rows" ]; then
    stty -F /dev/ttyS1 rows "$tty_rows" cols "$tty_cols"
    stty -F /dev/ttyS2 rows "$tty_rows" cols "$tty_cols"
fi

# The command's stdout/stderr are the serial ports when run.sh's are
# terminals, pipes otherwise, so programs see what they would on the host.
cat_pids=
if [ "$stdout_tty" = 1 ]; then
    exec 3>&5
else
    mkfifo /stdout.fifo
    cat /stdout.fifo >&5 5>&- 6>&- &
    cat_pids="$cat_pids $!"
    exec 3>/stdout.fifo
fi
if [ "$stderr_tty" = 1 ]; then
    exec 4>&6
else
    mkfifo /stderr.fifo
    cat /stderr.fifo >&6 5>&- 6>&- &
    cat_pids="$cat_pids $!"
    exec 4>/stderr.fifo
fi

# A heartbeat on the console: run.sh's watchdog takes a console that has
# been silent for minutes as an L1 kernel that locked up with interrupts off
# (seen under TCG with no lock-up message at all).
( while sleep 15; do echo "l1vm-heartbeat"; done ) 3>&- 4>&- 5>&- 6>&- &
heartbeat_pid=$!
mark "starting the command"
env -i chroot /host /bin/sh /run/l1vm/command.sh </dev/null >&3 2>&4 3>&- 4>&- 5>&- 6>&-
status=$?
kill "$heartbeat_pid" 2>/dev/null
exec 3>&- 4>&-

# A daemon the command left behind may hold the pipes open: the cats have
# already forwarded what they read, so stop waiting for them after 2 s.
if [ -n "$cat_pids" ]; then
    # shellcheck disable=SC2086 # a list of pids
    (sleep 2; kill $cat_pids) 2>/dev/null &
    watchdog=$!
    # shellcheck disable=SC2086
    wait $cat_pids
    kill "$watchdog" 2>/dev/null
fi
# tcsetattr(TCSADRAIN) in stty waits until the ports have sent everything.
stty -F /dev/ttyS1 raw
stty -F /dev/ttyS2 raw
exec 5>&- 6>&-

echo "$status" >/ctl/status
sync
poweroff -f
