#!/usr/bin/env bash
# Builds skiff and boots the embedded default microVM (the test guest) with
# networking: one virtio-net interface on a tap in a network namespace of its
# own, pinged from the host side (scripts/default-vm.sh). Extra arguments go
# to `skiff run`. On a host without a usable /dev/kvm skiff runs inside
# tests/l1vm/run.sh (QEMU/TCG with nested SVM). Needs root (or sudo) for the
# namespace and the tap.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null; then
    exec 3>&-
    scripts/install-deps.sh build
    wrap=()
else
    scripts/install-deps.sh all
    echo "run-default.sh: /dev/kvm is not usable here: booting inside tests/l1vm/run.sh" >&2
    wrap=(tests/l1vm/run.sh --)
fi
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
"${as_root[@]}" "${wrap[@]}" "$(pwd)/scripts/default-vm.sh" "$(pwd)/build/skiff" "$@"
