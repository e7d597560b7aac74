#!/usr/bin/env bash
# Runs the tests of a ctest label one at a time (ctest-each.sh) where
# /dev/kvm works: in L1 VMs (run.sh), or on this host when its /dev/kvm
# works and --force-vm is not given. When an L1 VM fails (run.sh status 122
# or 123: set-up failure, L1 kernel panic or lock-up), a fresh one resumes
# at the test that was running, so one L1 failure costs one test's re-run.
# A test during which two L1 VMs died is recorded as failed, and the label
# goes on with the next test.
#
#   run-label.sh [--vms N] [--summary FILE] [--name NAME] [RUN.SH OPTION...]
#                -- BUILD_DIR LABEL [CTEST OPTION...]
#
# --vms: at most N L1 VMs in all (default 6). --summary appends one line,
# tab-separated: NAME (default LABEL), tests passed, tests failed, L1 VMs used, L1 failures,
# kernel the tests ran on ("host KERNEL" without an L1 VM). LABEL and the
# CTEST OPTIONs (-R, -E, -LE choose tests) are ctest-each.sh's. Exit status: 0 when every test of the
# label passed.
set -uo pipefail
script_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
source "$script_dir/console_lib.sh"

max_vms=6 summary='' name='' run_options=()
while [ $# -gt 0 ]; do
    case $1 in
        --vms) max_vms=$2; shift 2 ;;
        --summary) summary=$2; shift 2 ;;
        --name) name=$2; shift 2 ;;
        --) shift; break ;;
        *) run_options+=("$1"); shift ;;
    esac
done
[ $# -ge 2 ] || { sed -n '10,11s/^# \{0,1\}//p' "${BASH_SOURCE[0]}" >&2; exit 2; }
build=$(cd "$1" && pwd -P) label=$2
shift 2
record=$build/l1vm-${label//[^A-Za-z0-9_-]/_}-record.txt
rm -f "$record" "$build/l1vm-${label//[^A-Za-z0-9_-]/_}"-died-*.log

kvm_usable() { [ -c /dev/kvm ] && { exec 3<>/dev/kvm; } 2>/dev/null && exec 3>&-; }
force_vm=0
for option in "${run_options[@]}"; do
    case $option in --force-vm | --vfio-edu) force_vm=1 ;; esac
done

# A test that was started in a VM that died gets "NAME l1-died"; the second
# time it is recorded as failed so that the label can go on.
mark_interrupted_test() {
    local test
    test=$(awk '$2 == "started" { last = $1 } $2 == "passed" || $2 == "failed" { if ($1 == last) last = "" }
                END { print last }' "$record")
    [ -n "$test" ] || return 0
    echo "$test l1-died" >>"$record"
    if [ "$(grep -c "^$test l1-died\$" "$record")" -ge 2 ]; then
        echo "run-label: $test: two L1 VMs died while it ran: recorded as failed" >&2
        echo "$test failed" >>"$record"
    fi
}

vms=0 l1_failures=0 kernel=''
if [ "$force_vm" = 0 ] && kvm_usable; then
    status=0
    "$script_dir/ctest-each.sh" "$build" "$record" "$label" "$@" || status=$?
    kernel="host $(uname -r)"
else
    console=$(mktemp "${TMPDIR:-/tmp}/l1label.XXXXXX")
    trap 'rm -f "$console"' EXIT
    while [ "$vms" -lt "$max_vms" ]; do
        vms=$((vms + 1))
        status=0
        "$script_dir/run.sh" --force-vm --memory 4096 --timeout 3600 --console-log "$console" \
            "${run_options[@]}" -- "$script_dir/ctest-each.sh" "$build" "$record" "$label" "$@" || status=$?
        kernel=$(l1_kernel_of "$console")
        [ "$status" -eq 122 ] || [ "$status" -eq 123 ] || break
        l1_failures=$((l1_failures + 1))
        # Kept for study: the console (and QEMU's monitor) of each VM that died.
        cp "$console" "$build/l1vm-${label//[^A-Za-z0-9_-]/_}-died-$vms.log" 2>/dev/null || true
        mark_interrupted_test
        echo "run-label: the L1 VM failed (status $status: $(l1_death_of "$console"); L1 VM $vms of at most $max_vms); resuming after $(grep -c -E ' (passed|failed)$' "$record") test(s)" >&2
    done
fi
passed=$(grep -c ' passed$' "$record" || true)
failed=$(grep -c ' failed$' "$record" || true)
# Tests never reached (every L1 VM died) count as failed.
select=()
while [ $# -ge 2 ] && { [ "$1" = -LE ] || [ "$1" = -R ] || [ "$1" = -E ]; }; do
    select+=("$1" "$2")
    shift 2
done
total=$("$script_dir/ctest-each.sh" --list "$build" "$label" "${select[@]}" | wc -l)
not_run=$((total - passed - failed))
[ "$not_run" -le 0 ] || echo "run-label: label $label: $not_run test(s) not run" >&2
failed=$((failed + (not_run > 0 ? not_run : 0)))
echo "run-label: label $label: $passed passed, $failed failed, $vms L1 VM(s), $l1_failures L1 failure(s), kernel ${kernel:-unknown}" >&2
if [ -n "$summary" ]; then
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "${name:-$label}" "$passed" "$failed" "$vms" "$l1_failures" "${kernel:-unknown}" >>"$summary"
fi
exit "$status"
