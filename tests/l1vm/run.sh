#!/usr/bin/env bash
# Runs COMMAND where /dev/kvm works. On a host with a usable /dev/kvm that is
# the host itself; elsewhere it is an "L1" VM: QEMU with TCG emulating an AMD
# CPU with SVM and nested paging, running Debian's kernel with kvm-amd loaded.
# The host's root file system is shared read-only, the work tree read-write,
# and COMMAND runs there with the caller's cwd and environment. See README.md.
#
# usage: run.sh [--cpus N] [--memory MiB] [--timeout SEC] [--share DIR]...
#               [--force-vm] [--vfio-edu] [--verbose] [--console-log FILE]
#               -- COMMAND [ARGS...]
#
# Defaults: --cpus from l1vm.conf, --memory 2048 --timeout 3600, --share the git top-level
# of the current directory (or the current directory). --vfio-edu (implies
# --force-vm) adds an emulated VT-d IOMMU and QEMU's edu PCI device
# (1234:11e8) for skiff's VFIO test to pass through. Exit status: COMMAND's,
# or 122 the L1 VM could not set itself up, 123 its kernel panicked, locked up
# or it stopped without a status, 124 the timeout expired, 125 usage or QEMU error.
# --console-log keeps the L1 kernel's whole console in FILE. The L1 platform
# (kernel, kvm-amd parameters, CPU model, TCG threading, vCPUs) comes from
# l1vm.conf beside this script; SKIFF_L1VM_* variables override it.
set -euo pipefail

readonly exit_setup_failed=122
readonly exit_vm_died=123
readonly exit_timeout=124
readonly exit_harness=125

script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
start_time=$EPOCHREALTIME

usage() {
    sed -n '8,10s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2
    exit "$exit_harness"
}
help() {
    sed -n '2,20s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"
    exit 0
}
die() {
    echo "l1vm: $*" >&2
    exit "$exit_harness"
}
verbose=0
note() {
    if [ "$verbose" = 1 ]; then
        printf 'l1vm: [%6.2fs] %s\n' "$(elapsed)" "$*" >&2
    fi
}
elapsed() {
    awk -v start="$start_time" -v now="$EPOCHREALTIME" 'BEGIN { printf "%.2f", now - start }'
}
positive_integer() {
    [[ $2 =~ ^[1-9][0-9]*$ ]] || die "$1 wants a positive integer, got '$2'"
}

cpus=''
memory=2048
timeout=3600
force_vm=0
vfio_edu=0
console_log=
shares=()
while [ $# -gt 0 ]; do
    case $1 in
        --cpus) [ $# -ge 2 ] || usage; positive_integer "$1" "$2"; cpus=$2; shift 2 ;;
        --memory) [ $# -ge 2 ] || usage; positive_integer "$1" "$2"; memory=$2; shift 2 ;;
        --timeout) [ $# -ge 2 ] || usage; positive_integer "$1" "$2"; timeout=$2; shift 2 ;;
        --share) [ $# -ge 2 ] || usage; shares+=("$2"); shift 2 ;;
        --force-vm) force_vm=1; shift ;;
        --vfio-edu) vfio_edu=1; force_vm=1; shift ;;
        --verbose) verbose=1; shift ;;
        --console-log) [ $# -ge 2 ] || usage; console_log=$2; shift 2 ;;
        --) shift; break ;;
        -h | --help) help ;;
        *) echo "l1vm: unknown option '$1'" >&2; usage ;;
    esac
done
[ $# -gt 0 ] || usage

# <> would create a missing /dev/kvm as a plain file, hence the -c test.
kvm_usable() { [ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-; }
if [ "$force_vm" = 0 ] && kvm_usable; then
    exec "$@"
fi

# ---------------------------------------------------------------- host side

# The L1 platform: l1vm.conf, then SKIFF_L1VM_* from the environment.
l1_kernel=newest l1_kvm_amd_params='' l1_cpu_model=EPYC,+svm,+npt l1_tcg_thread=multi l1_cpus=2
# shellcheck source=l1vm.conf
. "$script_dir/l1vm.conf"
l1_kernel=${SKIFF_L1VM_KERNEL:-$l1_kernel}
l1_kvm_amd_params=${SKIFF_L1VM_KVM_AMD_PARAMS-$l1_kvm_amd_params}
l1_cpu_model=${SKIFF_L1VM_CPU:-$l1_cpu_model}
l1_tcg_thread=${SKIFF_L1VM_TCG_THREAD:-$l1_tcg_thread}
cpus=${cpus:-${SKIFF_L1VM_CPUS:-$l1_cpus}}
positive_integer SKIFF_L1VM_CPUS "$cpus"
[[ $l1_tcg_thread =~ ^(multi|single)$ ]] || die "SKIFF_L1VM_TCG_THREAD must be multi or single, got '$l1_tcg_thread'"
[[ $l1_kvm_amd_params =~ ^([a-z_]+=[A-Za-z0-9_]+( |$))*$ ]] ||
    die "kvm-amd parameters must be NAME=VALUE words, got '$l1_kvm_amd_params'"

# Does Debian kernel $1 have both an image and modules here?
kernel_installed() { [ -r "/boot/vmlinuz-$1" ] && [ -f "/lib/modules/$1/modules.dep" ]; }

# Prints the newest Debian kernel version that has both an image and modules.
newest_kernel_version() {
    local image version
    for image in /boot/vmlinuz-*-amd64; do
        version=${image#/boot/vmlinuz-}
        kernel_installed "$version" && echo "$version"
    done | sort -V | tail -n 1
}

# Prints the kernel to boot: the pinned one, installed first when missing;
# when no package of it is served any more, the newest installed one, with
# a warning (the pin in l1vm.conf then wants updating).
find_kernel_version() {
    if [ "$l1_kernel" = newest ]; then
        newest_kernel_version
        return
    fi
    if ! kernel_installed "$l1_kernel"; then
        "$script_dir/../../scripts/install-deps.sh" --packages "linux-image-$l1_kernel-unsigned" >&2 ||
            "$script_dir/../../scripts/install-deps.sh" --packages "linux-image-$l1_kernel" >&2 || true
    fi
    if kernel_installed "$l1_kernel"; then
        echo "$l1_kernel"
        return
    fi
    echo "l1vm: warning: the pinned L1 kernel $l1_kernel cannot be installed (linux-image-$l1_kernel-unsigned is not served?): using the newest installed kernel; see tests/l1vm/README.md" >&2
    newest_kernel_version
}

install_missing_packages() {
    local missing=()
    command -v qemu-system-x86_64 >/dev/null || missing+=(qemu-system-x86)
    [ -n "$(newest_kernel_version)" ] || missing+=(linux-image-amd64)
    dpkg-query -W -f='${Status}' busybox-static 2>/dev/null | grep -q 'install ok installed' ||
        missing+=(busybox-static)
    command -v cpio >/dev/null || missing+=(cpio)
    command -v xz >/dev/null || missing+=(xz-utils) # to extract the ELF kernel
    [ ${#missing[@]} -eq 0 ] && return 0
    "$script_dir/../../scripts/install-deps.sh" --packages "${missing[@]}" ||
        die "could not install ${missing[*]}"
}

# Module paths (relative to /lib/modules/VERSION) in load order; a module's
# dependencies from modules.dep come before it.
declare -A module_seen=()
module_order=()
add_module_with_dependencies() {
    local kind=$1 path=$2 dependency
    [ -n "${module_seen[$path]:-}" ] && return 0
    for dependency in ${module_dependencies[$path]}; do
        add_module_with_dependencies "$kind" "$dependency"
    done
    module_seen[$path]=1
    module_order+=("$kind $path")
}
declare -A module_dependencies=() module_by_name=()
read_modules_dep() {
    local target dependencies name
    while IFS=: read -r target dependencies; do
        module_dependencies[$target]=$dependencies
        name=${target##*/}
        module_by_name[${name%%.ko*}]=$target
    done <"/lib/modules/$kernel_version/modules.dep"
}
# kind R: the VM is useless without it. Kind O: wanted by networking tests.
add_module() {
    local kind=$1 name=$2
    if [ -n "${module_by_name[$name]:-}" ]; then
        add_module_with_dependencies "$kind" "${module_by_name[$name]}"
    elif grep -q "/$name\.ko" "/lib/modules/$kernel_version/modules.builtin" 2>/dev/null; then
        return 0
    elif [ "$kind" = R ]; then
        die "kernel $kernel_version has no module $name"
    fi
}

# Is $1 a whole 64-bit little-endian ELF file? Its section headers come
# last, so a cut-short decompression fails the size check.
complete_elf64() {
    local file=$1 size header_offset entry_size entry_count
    [ "$(od -An -tx1 -N 6 "$file" | tr -d ' \n')" = 7f454c460201 ] || return 1
    size=$(stat -c %s "$file")
    header_offset=$(od -An -tu8 -j 40 -N 8 "$file" | tr -d ' ')
    entry_size=$(od -An -tu2 -j 58 -N 2 "$file" | tr -d ' ')
    entry_count=$(od -An -tu2 -j 60 -N 2 "$file" | tr -d ' ')
    [ "$size" -ge $((header_offset + entry_size * entry_count)) ]
}

# Writes to $1 the uncompressed ELF kernel inside the bzImage $2. QEMU boots
# it through its PVH entry point, which skips the bzImage's decompressor:
# under TCG that decompressor alone takes ~5 s of every boot. The payload
# is found by its compressor's magic number; what follows it in the bzImage
# makes the decompressors complain, hence the ELF check instead of theirs.
extract_vmlinux() {
    local output=$1 image=$2 magic decompress offset
    for magic in 'xz \xfd7zXZ\x00' 'zstd \x28\xb5\x2f\xfd' 'gzip \x1f\x8b\x08'; do
        decompress=${magic%% *}
        offset=$(LC_ALL=C grep -obUaP -m 1 "${magic#* }" "$image" | head -n 1 | cut -d: -f1)
        [ -n "$offset" ] || continue
        command -v "$decompress" >/dev/null || continue
        tail -c +$((offset + 1)) "$image" | "$decompress" -dc 2>/dev/null >"$output.partial.$$" || true
        if complete_elf64 "$output.partial.$$"; then
            mv -f "$output.partial.$$" "$output"
            return 0
        fi
    done
    rm -f "$output.partial.$$"
    return 1
}

# Builds the initramfs into $1: static busybox, init.sh as /init, modules.
build_initramfs() {
    local output=$1 staging entry kind path source target
    staging=$(mktemp -d "$cache_dir/staging.XXXXXX")
    cleanup_paths+=("$staging")
    mkdir -p "$staging"/{bin,dev,proc,sys,host,ctl,tmp,etc}
    cp /bin/busybox "$staging/bin/busybox"
    cp "$script_dir/init.sh" "$staging/init"
    chmod 755 "$staging/init"

    read_modules_dep
    for name in kvm-amd virtio_pci 9pnet_virtio 9p; do add_module R "$name"; done
    for name in tun tap veth bridge macvlan macvtap vhost vhost_net vfio vfio_iommu_type1 vfio-pci; do
        add_module O "$name"
    done
    : >"$staging/etc/l1vm-modules"
    for entry in "${module_order[@]}"; do
        kind=${entry%% *}
        path=${entry#* }
        source=/lib/modules/$kernel_version/$path
        target=$staging/lib/modules/${path%.ko*}.ko
        mkdir -p "$(dirname "$target")"
        # busybox insmod takes plain ELF objects only.
        case $source in
            *.ko) cp "$source" "$target" ;;
            *.ko.xz) xz -dc "$source" >"$target" ;;
            *.ko.zst) zstd -qdc "$source" >"$target" ;;
            *.ko.gz) gzip -dc "$source" >"$target" ;;
            *) die "unknown module format: $source" ;;
        esac
        echo "$kind ${path%.ko*}.ko" >>"$staging/etc/l1vm-modules"
    done
    # Uncompressed: QEMU loads it straight into guest memory, and
    # decompressing under TCG would cost more than the copy saves.
    (cd "$staging" && find . -print0 | LC_ALL=C sort -z |
        cpio --null --create --format=newc --owner=0:0 --quiet) >"$output.partial.$$"
    mv -f "$output.partial.$$" "$output"
}

# Sets the variable named $1 to $2 quoted for any POSIX shell: '...' with
# each ' written as '\''. (No subshell: it runs once per variable.)
quote_into() {
    local escaped=${2//\'/\'\\\'\'}
    printf -v "$1" "'%s'" "$escaped"
}

# Is $1 equal to or below one of the shared directories?
under_a_share() {
    local share
    for share in "${shares[@]}"; do
        [ "$share" = / ] && continue
        case $1 in "$share" | "$share"/*) return 0 ;; esac
    done
    return 1
}

# The script the VM runs chrooted in the host root: the caller's cwd,
# environment and command, each value quoted, none pasted raw.
write_command_script() {
    local output=$1 entry name value quoted base_path directory argument
    {
        quote_into quoted "$cwd"
        echo "cd $quoted || { echo \"l1vm: cannot enter \"$quoted\" inside the L1 VM\" >&2; exit $exit_harness; }"
        while IFS= read -r -d '' entry; do
            name=${entry%%=*}
            value=${entry#*=}
            [[ $name =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
            case $name in
                PWD | OLDPWD | SHLVL | _ | HOME | PATH | XDG_RUNTIME_DIR) continue ;;
                # /tmp is a fresh tmpfs inside: an outside TMPDIR exists
                # there only if it was shared.
                TMPDIR) under_a_share "$value" || continue ;;
            esac
            quote_into quoted "$value"
            echo "export $name=$quoted"
        done < <(env -0)
        # The system's directories come first: a version manager's shim
        # (pyenv's python3) forks a dozen processes per call, which takes
        # seconds under TCG (9 s against 0.4 s for /usr/bin/python3).
        base_path=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
        local path=$base_path
        for directory in ${PATH//:/ }; do
            case ":$path:" in *":$directory:"*) ;; *) path=$path:$directory ;; esac
        done
        quote_into quoted "$path"
        echo "export PATH=$quoted"
        echo "export HOME=/root"
        printf 'exec'
        for argument in "${command[@]}"; do
            quote_into quoted "$argument"
            printf ' %s' "$quoted"
        done
        echo
    } >"$output"
}

cleanup_paths=()
qemu_pid=
sleep_pid=
# shellcheck disable=SC2317 # called by the EXIT trap
on_exit() {
    set +e # a process already gone must not stop the clean-up half-way
    # disown: no "Killed" job report from bash.
    if [ -n "$qemu_pid" ]; then
        disown "$qemu_pid" 2>/dev/null
        kill -KILL "$qemu_pid" 2>/dev/null
    fi
    if [ -n "$sleep_pid" ]; then
        disown "$sleep_pid" 2>/dev/null
        kill "$sleep_pid" 2>/dev/null
    fi
    if [ ${#cleanup_paths[@]} -gt 0 ]; then
        rm -rf "${cleanup_paths[@]}"
    fi
}
trap on_exit EXIT
trap 'echo "l1vm: interrupted" >&2; exit 130' INT
trap 'echo "l1vm: terminated" >&2; exit 143' TERM

command=("$@")
cwd=$(pwd -P)
if [ ${#shares[@]} -eq 0 ]; then
    top=$(git -c safe.directory='*' -C "$cwd" rev-parse --show-toplevel 2>/dev/null) || top=
    shares=("${top:-$cwd}")
fi
for i in "${!shares[@]}"; do
    [ -d "${shares[$i]}" ] || die "--share ${shares[$i]}: not a directory"
    shares[i]=$(cd "${shares[$i]}" && pwd -P)
    [ "${shares[$i]}" != / ] || die "cannot share / read-write (it is shared read-only)"
done
# Sorted, a share comes before any share inside it, as mounting needs.
mapfile -d '' -t shares < <(printf '%s\0' "${shares[@]}" | LC_ALL=C sort -zu)

install_missing_packages
kernel_version=$(find_kernel_version)
[ -n "$kernel_version" ] || die "no /boot/vmlinuz-*-amd64 with a /lib/modules directory"
kernel_image=/boot/vmlinuz-$kernel_version
[ -r "$kernel_image" ] || die "cannot read $kernel_image"

cache_dir=${SKIFF_CACHE:-$HOME/.cache/skiff}/l1vm
mkdir -p "$cache_dir" || die "cannot create $cache_dir"
key=$({
    echo "$kernel_version"
    cat "${BASH_SOURCE[0]}" "$script_dir/init.sh"
    stat -L -c '%s %Y' /bin/busybox "/lib/modules/$kernel_version/modules.dep"
} | sha256sum | cut -c1-16)
initramfs=$cache_dir/initramfs-$kernel_version-$key.cpio
if [ ! -f "$initramfs" ]; then
    note "building $initramfs"
    build_initramfs "$initramfs"
    find "$cache_dir" -maxdepth 1 -name 'initramfs-*.cpio' ! -path "$initramfs" -delete
fi
note "initramfs ready"

# Boot the extracted ELF when the kernel has a PVH entry, else the bzImage.
if grep -q '^CONFIG_PVH=y' "/boot/config-$kernel_version" 2>/dev/null; then
    vmlinux=$cache_dir/vmlinux-$kernel_version
    if [ ! -f "$vmlinux" ] || [ "$vmlinux" -ot "$kernel_image" ]; then
        note "extracting $vmlinux"
        find "$cache_dir" -maxdepth 1 -name 'vmlinux-*' ! -name '*.partial.*' \
            ! -name "vmlinux-$kernel_version" -delete
        if extract_vmlinux "$vmlinux" "$kernel_image"; then
            kernel_image=$vmlinux
        else
            note "could not extract an ELF kernel: booting the bzImage"
        fi
    else
        kernel_image=$vmlinux
    fi
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/l1vm.XXXXXX")
cleanup_paths+=("$work")
write_command_script "$work/command.sh"
stdout_tty=0 stderr_tty=0 tty_rows='' tty_cols=''
if [ -t 1 ]; then
    stdout_tty=1
    read -r tty_rows tty_cols < <(stty size 2>/dev/null) || true
fi
[ -t 2 ] && stderr_tty=1
{
    echo "share_count=${#shares[@]}"
    for i in "${!shares[@]}"; do
        quote_into quoted "${shares[$i]}"
        echo "share_$((i + 1))=$quoted"
    done
    quote_into quoted "$l1_kvm_amd_params"
    echo "kvm_amd_params=$quoted"
    echo "stdout_tty=$stdout_tty stderr_tty=$stderr_tty"
    echo "tty_rows=$tty_rows tty_cols=$tty_cols"
} >"$work/config"

# EPYC with SVM and nested paging; minus what TCG cannot emulate anyway, so
# that QEMU does not warn about each of them.
cpu_model=$l1_cpu_model
for feature in rdseed sha-ni fxsr-opt misalignsse 3dnowprefetch osvw topoext nrip-save xsavec; do
    cpu_model+=,-$feature
done
# shellcheck disable=SC2054 # the commas belong to QEMU's option syntax
append="console=ttyS0 quiet panic=-1 mitigations=off cryptomgr.notests ${SKIFF_L1VM_APPEND:-}"
qemu_args=(
    -nodefaults -no-user-config -display none -no-reboot
    -monitor "unix:${work//,/,,}/monitor.sock,server=on,wait=off"
    -machine q35 -accel "tcg,thread=$l1_tcg_thread" -cpu "$cpu_model"
    -smp "$cpus" -m "$memory"
    -kernel "$kernel_image" -initrd "$initramfs"
)
if [ "$vfio_edu" = 1 ]; then
    # The IOMMU comes before every other PCI device (QEMU wants it so).
    qemu_args+=(-device intel-iommu -device edu)
    append+=" intel_iommu=on"
fi
qemu_args+=(
    -append "$append"
    # multidevs=remap: the host root spans several file systems, whose
    # inode numbers collide (/proc and /sys both have inode 1) unless QEMU
    # makes the file IDs it hands out unique.
    -virtfs "local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap"
    -virtfs "local,path=${work//,/,,},mount_tag=l1ctl,security_model=none"
)
# For debugging the L1 kernel (e.g. "-gdb tcp:127.0.0.1:1234"); split on spaces.
# shellcheck disable=SC2206
[ -z "${SKIFF_L1VM_QEMU_ARGS:-}" ] || qemu_args+=(${SKIFF_L1VM_QEMU_ARGS})
for i in "${!shares[@]}"; do
    # QEMU's option syntax escapes a comma in a value by doubling it.
    qemu_args+=(-virtfs "local,path=${shares[$i]//,/,,},mount_tag=l1share$((i + 1)),security_model=none,multidevs=remap")
done

# Serial ports: ttyS0 the kernel console (kept in a log), ttyS1 and ttyS2
# COMMAND's stdout and stderr, through pipes to cats that write on this
# script's own stdout and stderr (QEMU's file chardev would truncate a file).
exec {stdout_pipe}> >(cat)
stdout_cat=$!
exec {stderr_pipe}> >(cat >&2)
stderr_cat=$!
qemu_args+=(
    -serial "file:$work/console.log"
    -chardev "file,id=stdout,path=/proc/self/fd/$stdout_pipe,append=on" -serial chardev:stdout
    -chardev "file,id=stderr,path=/proc/self/fd/$stderr_pipe,append=on" -serial chardev:stderr
)

note "starting QEMU: ${cpus} vCPUs, ${memory} MiB, kernel $kernel_image"
qemu-system-x86_64 "${qemu_args[@]}" </dev/null >"$work/qemu.log" 2>&1 &
qemu_pid=$!
exec {stdout_pipe}>&- {stderr_pipe}>&-
# The watchdog: the timeout, and an L1 kernel that has locked up (nested KVM
# under TCG has been seen to wedge both L1 CPUs in soft lockups for good; a
# lockup reported at 50 s or more is taken as that: none has been seen to
# recover, and the caller can resume in a fresh VM sooner).
watchdog() {
    local deadline=$((SECONDS + timeout))
    while [ "$SECONDS" -lt "$deadline" ]; do
        sleep 5
        if grep -qE 'soft lockup - CPU#[0-9]+ stuck for ([0-9]{3,}|[5-9][0-9])s' \
            "$work/console.log" 2>/dev/null; then
            : >"$work/wedged"
            return 0
        fi
        # init.sh prints a heartbeat every 15 s once the command runs: a
        # console silent for 180 s after that means the L1 kernel is stuck.
        if grep -q '^l1vm-heartbeat' "$work/console.log" 2>/dev/null; then
            local silent=$(($(date +%s) - $(stat -c %Y "$work/console.log")))
            if [ "$silent" -ge 180 ]; then
                : >"$work/wedged"
                return 0
            fi
        fi
    done
}
watchdog &
sleep_pid=$!
# What the L1 CPUs were doing when the watchdog gave up, from QEMU's
# monitor: registers twice, two seconds apart (a RIP that moves is a VM
# that runs but prints nothing; one that stays is stuck).
monitor_dump() {
    timeout 20 python3 - "$work/monitor.sock" <<'PY'
import socket, sys, time
def ask(sock, command):
    sock.sendall(command.encode() + b"\n")
    time.sleep(1)
    sock.settimeout(2)
    out = b""
    try:
        while True:
            chunk = sock.recv(65536)
            if not chunk:
                break
            out += chunk
    except socket.timeout:
        pass
    return out.decode(errors="replace")
sock = socket.socket(socket.AF_UNIX)
sock.connect(sys.argv[1])
ask(sock, "")
for command in ("info status", "info registers -a", "info registers -a"):
    print(ask(sock, command).replace("\r", ""))
PY
}

qemu_status=0
finished=
wait -n -p finished "$qemu_pid" "$sleep_pid" || qemu_status=$?
timed_out=0
if [ "$finished" = "$sleep_pid" ]; then
    timed_out=1
    sleep_pid=
    [ ! -e "$work/wedged" ] || monitor_dump >"$work/monitor.txt" 2>&1
    kill -TERM "$qemu_pid" 2>/dev/null || true
    for _ in 1 2 3 4 5 6 7 8 9 10; do
        kill -0 "$qemu_pid" 2>/dev/null || break
        sleep 0.5
    done
    kill -KILL "$qemu_pid" 2>/dev/null || true
    wait "$qemu_pid" 2>/dev/null || true
else
    kill "$sleep_pid" 2>/dev/null || true
    wait "$sleep_pid" 2>/dev/null || true
    sleep_pid=
fi
qemu_pid=
# Every byte COMMAND wrote is out before any message of ours.
wait "$stdout_cat" "$stderr_cat" 2>/dev/null || true
note "QEMU exited with status $qemu_status"
if [ -n "$console_log" ]; then
    cp "$work/console.log" "$console_log" || echo "l1vm: could not write $console_log" >&2
fi
if [ "$verbose" = 1 ]; then
    sed 's/^/  qemu| /' "$work/qemu.log" >&2
    sed 's/^/  console| /' "$work/console.log" >&2
fi

show_console() {
    echo "l1vm: last lines of the L1 kernel console:" >&2
    tail -n "${1:-30}" "$work/console.log" | sed 's/^/  console| /' >&2
}
show_qemu_log() {
    echo "l1vm: QEMU's messages:" >&2
    tail -n 20 "$work/qemu.log" | sed 's/^/  qemu| /' >&2
}

if [ "$timed_out" = 1 ] && [ -e "$work/wedged" ]; then
    echo "l1vm: the L1 kernel locked up (a soft lockup of 50 s or more, or no console heartbeat for 180 s); the L1 VM was killed" >&2
    show_console 20
    if [ -s "$work/monitor.txt" ]; then
        echo "l1vm: QEMU's monitor before the kill (also in the console log):" >&2
        grep -E '^(VM status|CPU#|[ER]IP|CS |CR0|EFER)' "$work/monitor.txt" | sed 's/^/  monitor| /' >&2
        [ -z "$console_log" ] || { echo "--- QEMU monitor"; cat "$work/monitor.txt"; } >>"$console_log"
    fi
    exit "$exit_vm_died"
fi
if [ "$timed_out" = 1 ]; then
    echo "l1vm: timeout: '${command[*]}' did not finish within ${timeout} s; the L1 VM was killed" >&2
    exit "$exit_timeout"
fi
if [ -s "$work/status" ]; then
    status=$(<"$work/status")
    [[ $status =~ ^[0-9]+$ ]] || die "the L1 VM reported a malformed status '$status'"
    exit "$status"
fi
if [ "$qemu_status" != 0 ]; then
    echo "l1vm: QEMU failed (exit status $qemu_status)" >&2
    show_qemu_log
    exit "$exit_harness"
fi
if grep -q '^l1vm-init: FAILED' "$work/console.log"; then
    reason=$(grep -m 1 '^l1vm-init: FAILED' "$work/console.log")
    echo "l1vm: the L1 VM could not set itself up: ${reason#l1vm-init: FAILED: }" >&2
    show_console
    exit "$exit_setup_failed"
fi
if grep -q 'Kernel panic' "$work/console.log"; then
    echo "l1vm: the L1 kernel panicked" >&2
    show_console 60
    exit "$exit_vm_died"
fi
echo "l1vm: the L1 VM stopped without reporting the command's exit status" >&2
show_console
exit "$exit_vm_died"
