#!/usr/bin/env bash
# Builds skiff and boots the embedded default microVM (the test guest).
# Extra arguments go to `skiff run`. On a host without a usable /dev/kvm
# skiff runs inside tests/l1vm/run.sh (QEMU/TCG with nested SVM).
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
"${wrap[@]}" "$(pwd)/build/skiff" run --cpus 2 "$@"
