#!/usr/bin/env bash
# Builds skiff's minimal microVM Linux kernel from Debian 12's linux-source-6.1:
# `make tinyconfig`, then the config fragments of the variant, then vmlinux (an
# ELF with the PVH note) and arch/x86/boot/bzImage.
#
#   build-kernel.sh [microvm|acpi]      (default: microvm)
#
#   microvm  microvm.config: MP table, virtio-mmio devices from the command line
#   acpi     microvm.config + microvm-acpi.config: ACPI, no command-line devices
#
# Everything lives in a cache outside the repository:
#   ${SKIFF_CACHE:-$HOME/.cache/skiff}/linux/
#     source-<package version>/   the unpacked source, shared by all variants
#     build-<key>/                the object tree while a build runs
#     <key>/{vmlinux,bzImage,config,System.map}   the finished artifacts
# <key> hashes the fragments, the source package version and the build recipe
# number (build_recipe below), so
# a change to any of them builds anew and an unchanged one is a no-op.
# The last line on stdout is the artifact directory; progress goes to stderr.
# Installs its build dependencies with apt-get when they are missing.
# SKIFF_JOBS overrides the make parallelism (default: nproc).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
script="$here/$(basename "${BASH_SOURCE[0]}")"
variant=${1:-microvm}
log() { echo "build-kernel: $*" >&2; }
die() { log "error: $*"; exit 1; }

case "$variant" in
    microvm) fragments=("$here/microvm.config") ;;
    acpi) fragments=("$here/microvm.config" "$here/microvm-acpi.config") ;;
    -h|--help) sed -n '2,20p' "$script" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown variant '$variant' (expected microvm or acpi)" ;;
esac

source_package=linux-source-6.1
source_tarball=/usr/src/linux-source-6.1.tar.xz
build_packages=(build-essential bc bison flex libelf-dev libssl-dev xz-utils cpio
    "$source_package")

install_missing_packages() {
    "$here/../../scripts/install-deps.sh" --packages "${build_packages[@]}"
}

# Unpacks the source once per package version; a half-unpacked tree is never
# left under the final name.
unpack_source() {
    local source_root=$1
    [ -f "$source_root/.unpacked" ] && return 0
    log "unpacking $source_tarball into $source_root"
    rm -rf "$source_root.partial"
    mkdir -p "$source_root.partial"
    tar -xJf "$source_tarball" -C "$source_root.partial" --strip-components=1
    rm -rf "$source_root"
    mv "$source_root.partial" "$source_root"
    touch "$source_root/.unpacked"
}

# Every option a fragment sets (or unsets) must have that value in the final
# .config: Kconfig silently drops an option whose dependencies are missing.
# A later fragment overrides an earlier one.
verify_config() {
    local config=$1 source_root=$2 failures=0 fragment name line option actual
    local -A wanted=() origin=()
    for fragment in "${fragments[@]}"; do
        name=${fragment##*/}
        while IFS= read -r line; do
            if [[ $line =~ ^CONFIG_([A-Za-z0-9_]+)=\"?([^\"]*)\"?$ ]]; then
                wanted[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
            elif [[ $line =~ ^#\ CONFIG_([A-Za-z0-9_]+)\ is\ not\ set$ ]]; then
                wanted[${BASH_REMATCH[1]}]=n
            else
                continue
            fi
            origin[${BASH_REMATCH[1]}]=$name
        done <"$fragment"
    done
    for option in "${!wanted[@]}"; do
        actual=$("$source_root/scripts/config" --file "$config" --state "$option")
        [ "$actual" = undef ] && actual=n
        if [ "$actual" != "${wanted[$option]}" ]; then
            log "config: CONFIG_$option is '$actual', ${origin[$option]} wants '${wanted[$option]}'"
            failures=$((failures + 1))
        fi
    done
    [ $failures -eq 0 ] || die "$failures option(s) did not make it into the final .config"
    log "config: all ${#wanted[@]} options of the fragments are in the final .config"
}

install_missing_packages
[ -f "$source_tarball" ] || die "$source_tarball is missing although $source_package is installed"

version=$(dpkg-query -W -f='${Version}' "$source_package")
# Bump when the build steps change in a way that changes the artifacts; edits
# that do not (messages, locking) must not force a kernel rebuild.
build_recipe=1
key=$( { echo "$variant $source_package $version recipe-$build_recipe"; cat "${fragments[@]}"; } |
    sha256sum | cut -c1-16)
cache=${SKIFF_CACHE:-$HOME/.cache/skiff}/linux
artifacts=$cache/$key
# A finished build needs no lock (and works on a read-only cache, e.g.
# inside tests/l1vm/run.sh).
if [ -f "$artifacts/.complete" ]; then
    log "$variant kernel $key is already built"
    echo "$artifacts"
    exit 0
fi
mkdir -p "$cache"

# One builder at a time per cache: a second caller waits, then finds the result.
exec 9>"$cache/.lock"
flock 9

if [ -f "$artifacts/.complete" ]; then
    log "$variant kernel $key is already built"
    echo "$artifacts"
    exit 0
fi

source_root=$cache/source-$version
unpack_source "$source_root"

build=$cache/build-$key
build_log=$build/build.log
rm -rf "$build"
mkdir -p "$build"
jobs=${SKIFF_JOBS:-$(nproc)}
make_args=(-C "$source_root" O="$build" -j"$jobs"
    KBUILD_BUILD_USER=skiff KBUILD_BUILD_HOST=skiff
    KBUILD_BUILD_TIMESTAMP="Debian $version")

run_make() {
    if ! make "${make_args[@]}" "$@" >>"$build_log" 2>&1; then
        tail -n 40 "$build_log" >&2
        die "make $* failed (full log: $build_log)"
    fi
}

log "configuring the $variant kernel ($key) in $build"
run_make tinyconfig
# tinyconfig's own recipe: whatever no fragment asks for stays off.
cat "$build/.config" "${fragments[@]}" >"$build/requested.config"
run_make KCONFIG_ALLCONFIG="$build/requested.config" allnoconfig
verify_config "$build/.config" "$source_root"

log "building vmlinux and bzImage with make -j$jobs (log: $build_log)"
started=$SECONDS
run_make vmlinux bzImage
log "built in $((SECONDS - started)) s"

rm -rf "$artifacts.partial"
mkdir -p "$artifacts.partial"
cp "$build/vmlinux" "$build/arch/x86/boot/bzImage" "$build/System.map" "$artifacts.partial/"
cp "$build/.config" "$artifacts.partial/config"
touch "$artifacts.partial/.complete"
rm -rf "$artifacts"
mv "$artifacts.partial" "$artifacts"
rm -rf "$build"
echo "$artifacts"
