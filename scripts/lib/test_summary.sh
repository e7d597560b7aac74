# Sourced by scripts/test.sh and scripts/test-sanitized.sh: one line per
# ctest label in the file $SKIFF_TEST_SUMMARY (tab-separated: label, passed,
# failed, L1 VMs, L1 failures, where the tests ran), as
# tests/l1vm/run-label.sh writes them, and the table printed at the end.
# shellcheck shell=bash

# summary_ctest NAME CTEST_ARGUMENT...: runs ctest here and records its
# counts under NAME. Returns ctest's status.
summary_ctest() {
    local name=$1 output status=0 passed failed total
    shift
    output=$(mktemp)
    ctest "$@" 2>&1 | tee "$output" || status=$?
    # "100% tests passed, 0 tests failed out of 315"
    read -r failed total < <(sed -n 's/.*tests passed, \([0-9]*\) tests\{0,1\} failed out of \([0-9]*\).*/\1 \2/p' "$output" | tail -n 1)
    if [ -z "${total:-}" ]; then
        # No summary line: ctest itself failed (e.g. no tests found).
        failed=1 total=1
        [ "$status" -ne 0 ] || status=1
    fi
    passed=$((total - failed))
    rm -f "$output"
    printf '%s\t%s\t%s\t-\t-\thost %s\n' "$name" "$passed" "$failed" "$(uname -r)" >>"$SKIFF_TEST_SUMMARY"
    return "$status"
}

# summary_print: the table, then the plain "N passed, M failed" line.
summary_print() {
    local total_passed=0 total_failed=0 label passed failed vms l1_failures where
    echo
    printf '%-26s %7s %7s %7s %12s  %s\n' label passed failed "L1 VMs" "L1 failures" "ran on (kernel)"
    while IFS=$'\t' read -r label passed failed vms l1_failures where; do
        printf '%-26s %7s %7s %7s %12s  %s\n' "$label" "$passed" "$failed" "$vms" "$l1_failures" "$where"
        total_passed=$((total_passed + passed))
        total_failed=$((total_failed + failed))
    done <"$SKIFF_TEST_SUMMARY"
    echo "$total_passed passed, $total_failed failed"
}
