# shellcheck shell=bash
# Reading an L1 VM's console log (run.sh --console-log FILE); sourced by
# run-label.sh and soak.sh.

# l1_kernel_of FILE: the L1 kernel's release, as init.sh printed it.
l1_kernel_of() {
    grep -m 1 -o 'l1vm-init: kernel [^ ,]*' "$1" 2>/dev/null | cut -d' ' -f3
}

# l1_death_of FILE: the first line that says how the L1 kernel died.
l1_death_of() {
    grep -m 1 -o -E 'corrupted stack end detected inside scheduler|TASK stack guard page was hit|soft lockup - CPU#[0-9]+ stuck|general protection fault[^,]*|BUG: [^,]*|Kernel panic - not syncing: [^,]*|l1vm-init: FAILED: .*' "$1" 2>/dev/null |
        head -n 1
}
