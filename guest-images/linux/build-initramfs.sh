#!/usr/bin/env bash
# Builds an initramfs (gzip'ed newc cpio) for skiff's Linux guests.
#
#   build-initramfs.sh spin OUT.cpio.gz
#       /init is spin-init.S: a static ELF that never makes a system call and
#       spins forever. For hosts whose KVM emulates guest kernel mode, where a
#       guest's user-mode SYSCALL faults: the kernel still reaches
#       "Run /init as init process" and stays up (SMP, networking via ip=).
#   build-initramfs.sh busybox OUT.cpio.gz [PROGRAM...]
#       Debian's busybox-static with busybox-init.sh as /init, plus Debian's
#       virtio_mmio, virtio_pci and virtio_net modules (and their
#       dependencies) from /lib/modules/<version>, for Debian's kernel. The
#       version is SKIFF_MODULES_VERSION, or the newest installed *-amd64 one.
#       Also Debian's ethtool, with the shared libraries it needs, so that a
#       test can read the offloads the guest's driver turned on. Each
#       PROGRAM (a Debian program's name or path, e.g. iperf3 for
#       bench/net_cpu.py) is packed the same way.
#
# The archive depends only on its inputs (root-owned entries, mtime 0,
# gzip -n). Installs busybox-static with apt-get when it is missing.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
log() { echo "build-initramfs: $*" >&2; }
die() { log "error: $*"; exit 1; }
usage() { echo "usage: $0 spin|busybox OUT.cpio.gz [PROGRAM...]" >&2; exit 2; }

[ $# -ge 2 ] || usage
kind=$1 output=$2
shift 2
extra_programs=("$@")
[ "$kind" = busybox ] || [ ${#extra_programs[@]} -eq 0 ] || usage
case "$kind" in spin|busybox) ;; *) usage ;; esac
# shellcheck source=newc.sh
. "$here/newc.sh"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

install_missing_package() {
    "$here/../../scripts/install-deps.sh" --packages "$1"
}

# Directories already in the archive (each parent comes once, first).
declare -A archive_directories=()
add_directory() {
    [ -n "${archive_directories[$1]:-}" ] && return
    archive_directories[$1]=1
    newc_directory "$1" 755
}
# add_parents PATH: the directories above PATH (relative), outermost first.
add_parents() {
    local parent=${1%/*} prefix='' part
    [ "$parent" != "$1" ] || return 0
    local IFS=/
    for part in $parent; do
        prefix=${prefix:+$prefix/}$part
        add_directory "$prefix"
    done
}

# add_program PATH: a dynamically linked Debian program, with every shared
# library ldd names and the dynamic loader, each at the path it has here
# (once, however many programs need it).
declare -A archive_files=()
add_program() {
    local file
    for file in "$1" $(ldd "$1" | grep -o '/[^ ]*'); do
        [ -z "${archive_files[$file]:-}" ] || continue
        archive_files[$file]=1
        add_parents "${file#/}"
        newc_file "${file#/}" 755 "$(readlink -f "$file")"
    done
}

# The directories and device nodes every image has; /dev/console lets the
# kernel give /init its standard streams before anything mounts devtmpfs.
add_base_entries() {
    local directory
    for directory in dev proc sys tmp root etc bin; do
        add_directory "$directory"
    done
    newc_char_device dev/console 600 5 1
    newc_char_device dev/null 666 1 3
}

build_spin() {
    install_missing_package gcc
    install_missing_package binutils
    gcc -nostdlib -static -no-pie -Wl,--build-id=none -s \
        -o "$work/init" "$here/spin-init.S"
    # The point of this init: not one system-call instruction in it.
    if objdump -d "$work/init" | grep -qwE 'syscall|sysenter|int|int3|int1'; then
        objdump -d "$work/init" >&2
        die "spin init contains a system-call instruction"
    fi
    newc_open "$work/initramfs.cpio"
    add_base_entries
    newc_file init 755 "$work/init"
    newc_close
}

# Prints the newest installed Debian kernel version that has modules.
debian_modules_version() {
    if [ -n "${SKIFF_MODULES_VERSION:-}" ]; then
        echo "$SKIFF_MODULES_VERSION"
        return
    fi
    local directory
    for directory in /lib/modules/*-amd64; do
        [ -f "$directory/modules.dep" ] && basename "$directory"
    done | sort -V | tail -n 1
}

# Prints the wanted modules' paths (relative to the modules directory) in an
# order insmod can load them: each module after its dependencies. modules.dep
# lists a module's dependencies so that loading them last-first works.
module_load_order() {
    local modules_dep=$1
    shift
    awk -v wanted="$*" '
        BEGIN { count = split(wanted, names, " ") }
        {
            path = substr($1, 1, length($1) - 1)  # drop the ":"
            name = path; sub(/.*\//, "", name); sub(/\.ko(\.[a-z]+)?$/, "", name)
            dependencies[name] = ""
            for (field = NF; field >= 2; --field)
                dependencies[name] = dependencies[name] " " $field
            paths[name] = path
        }
        END {
            for (i = 1; i <= count; ++i) {
                if (!(names[i] in paths)) { print "missing " names[i] > "/dev/stderr"; exit 1 }
                split(dependencies[names[i]], list, " ")
                for (j = 1; j in list; ++j)
                    if (!(list[j] in seen)) { seen[list[j]] = 1; print list[j] }
                if (!(paths[names[i]] in seen)) { seen[paths[names[i]]] = 1; print paths[names[i]] }
            }
        }' "$modules_dep"
}

build_busybox() {
    install_missing_package busybox-static
    install_missing_package ethtool
    # busybox-static's /bin/busybox (it replaces the dynamic busybox package).
    local busybox=/bin/busybox

    local version modules_directory="" load_order=()
    version=$(debian_modules_version)
    if [ -n "$version" ]; then
        modules_directory=/lib/modules/$version
        mapfile -t load_order < <(module_load_order "$modules_directory/modules.dep" \
            virtio_mmio virtio_pci virtio_net) ||
            die "virtio modules missing from $modules_directory"
        log "packing ${#load_order[@]} modules of $version"
    else
        log "no Debian kernel modules in /lib/modules: image without modules"
    fi

    newc_open "$work/initramfs.cpio"
    add_base_entries
    add_directory lib
    newc_file bin/busybox 755 "$busybox"
    add_program "$(command -v ethtool || echo /usr/sbin/ethtool)"
    local program path
    for program in "${extra_programs[@]}"; do
        path=$(command -v "$program") || die "$program not found: install its Debian package"
        add_program "$path"
    done
    newc_symlink bin/sh busybox
    newc_file init 755 "$here/busybox-init.sh"
    if [ -n "$modules_directory" ]; then
        local module
        add_directory lib/modules
        add_directory "lib/modules/$version"
        for module in "${load_order[@]}"; do
            basename "$module"
        done >"$work/load-order"
        newc_file "lib/modules/$version/load-order" 644 "$work/load-order"
        for module in "${load_order[@]}"; do
            newc_file "lib/modules/$version/$(basename "$module")" 644 \
                "$modules_directory/$module"
        done
    fi
    newc_close
}

"build_$kind"
gzip -n -9 <"$work/initramfs.cpio" >"$work/initramfs.cpio.gz"
mv "$work/initramfs.cpio.gz" "$output"
log "wrote $output ($(stat -c %s "$output") bytes)"
