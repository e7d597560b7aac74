#!/usr/bin/env bash
# Boot to user space, skiff against QEMU microvm: the running kernel
# (Debian's, in the L1 VM) with the busybox initramfs, through
# bench/startup.py --linux. Needs /dev/kvm; on hosts without one:
#   tests/l1vm/run.sh --memory 4096 -- bench/startup-linux.sh [--runs N]
set -euo pipefail
cd "$(dirname "$0")/.."
initrd=$(mktemp -d)/busybox.cpio.gz
trap 'rm -rf "$(dirname "$initrd")"' EXIT
guest-images/linux/build-initramfs.sh busybox "$initrd" >&2
[ $# -gt 0 ] || set -- --runs 7
python3 bench/startup.py --linux "/boot/vmlinuz-$(uname -r)" --initrd "$initrd" "$@"
