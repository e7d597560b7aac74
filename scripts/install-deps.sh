#!/usr/bin/env bash
# Installs the Debian 12 packages skiff needs to build and test, only those
# missing. Safe to run repeatedly; quiet when nothing is missing.
#   install-deps.sh [build|all|fuzz]       skiff's own sets (default: all;
#                                          fuzz: build + clang/libFuzzer for
#                                          tests/fuzz/run.sh)
#   install-deps.sh --packages P [P...]    just these (the other scripts' needs)
set -euo pipefail

build_packages=(build-essential cmake pkg-config linux-libc-dev libspdlog-dev libfmt-dev
    catch2 libcli11-dev nlohmann-json3-dev libfdt-dev libseccomp-dev ccache)
# clang with compiler-rt (libFuzzer, ASan, UBSan) and llvm-symbolizer.
fuzz_packages=(clang libclang-rt-dev llvm)
test_packages=(qemu-system-x86 linux-image-amd64 busybox-static cpio iproute2 iputils-ping
    procps xz-utils python3 curl ethtool)

wanted=("${build_packages[@]}")
case "${1:-all}" in
    build) ;;
    all) wanted+=("${test_packages[@]}") ;;
    fuzz) wanted+=("${fuzz_packages[@]}") ;;
    --packages) shift; wanted=("$@") ;;
    *) echo "usage: $0 [build|all|fuzz] | --packages PACKAGE..." >&2; exit 2 ;;
esac

missing=()
for package in "${wanted[@]}"; do
    if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
        missing+=("$package")
    fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
[ "$(id -u)" -eq 0 ] || sudo=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq >&2
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
