#!/usr/bin/env bash
# Files a careless or hostile caller names (issue 15): none hangs skiff,
# costs it memory beyond what the guest needs, or is damaged by it.
# - a FIFO (with no writer, or no reader) as --kernel, --initrd,
#   --config-file, --serial file: or --log-path: a clear error, exit 1, no
#   hang in open(); a directory or /dev/zero as --kernel: refused the same;
# - a 1 GiB file that is no kernel: refused on its first bytes (peak RSS
#   reported and bounded far below the file's size);
# - a 256 MiB initrd is read once, straight into guest memory: peak RSS
#   below 1.5 times its size (it was twice);
# - --serial file:F does not empty F when start-up fails (F may be the
#   kernel itself); checked where start-up fails at /dev/kvm, i.e. here.
# Needs no /dev/kvm: every file is checked before skiff opens it.
# usage: hostile_files.sh SKIFF TESTGUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2

# Each command is bounded by `timeout`: a hang shows as status 124.
bounded() {
    local name=$1; shift
    status=0
    timeout -s KILL 30 "$SKIFF" "$@" >"$TEST_TMP/$name.out" 2>"$TEST_TMP/$name.err" </dev/null || status=$?
    echo "--- skiff $* -> exit $status"
    sed 's/^/  err| /' "$TEST_TMP/$name.err" | tail -n 5
    [ "$status" -ne 137 ] || fail "$name: skiff hung (killed after 30 s)"
}

mkfifo "$TEST_TMP/fifo"
run_flags=(run --cmdline "console=ttyS0 testguest.mode=shutdown" --timeout 20)

bounded kernel_fifo "${run_flags[@]}" --kernel "$TEST_TMP/fifo"
expect_status 1
expect_error kernel_fifo "kernel image .*/fifo is a FIFO: give a regular file"

bounded initrd_fifo "${run_flags[@]}" --kernel "$GUEST" --initrd "$TEST_TMP/fifo"
expect_status 1
expect_error initrd_fifo "initrd .*/fifo is a FIFO: give a regular file"

# The flag parser sees a directory first: a bad flag.
bounded kernel_dir "${run_flags[@]}" --kernel "$TEST_TMP"
expect_status 2
expect_error kernel_dir "directory"

bounded kernel_zero "${run_flags[@]}" --kernel /dev/zero
expect_status 1
expect_error kernel_zero "/dev/zero is a device: give a regular file"

bounded config_fifo --no-api --config-file "$TEST_TMP/fifo"
expect_status 1
expect_error config_fifo "config file .*/fifo is a FIFO: give a regular file"

bounded serial_fifo "${run_flags[@]}" --kernel "$GUEST" --serial "file:$TEST_TMP/fifo"
expect_status 1
expect_error serial_fifo "serial output file .*/fifo is a FIFO with no reader: start its reader first"

bounded log_fifo --log-path "$TEST_TMP/fifo" --api-sock "$TEST_TMP/log.sock"
expect_status 1
expect_error log_fifo "log_path .*/fifo is a FIFO with no reader: start its reader first"
[ ! -e "$TEST_TMP/log.sock" ] || fail "the API socket was left behind"

# A bad flag value, refused before anything is made (docs/careless-callers.md).
bounded log_nodir --log-path "$TEST_TMP/no/such/dir/log" --api-sock "$TEST_TMP/log.sock"
expect_status 2
expect_error log_nodir "directory .*/no/such/dir does not exist: create it first"
[ ! -d "$TEST_TMP/no" ] || fail "--log-path created a directory"

# peak_rss_mib NAME ARGS...: runs skiff, its peak RSS (MiB) in $peak_mib.
peak_rss_mib() {
    local name=$1; shift
    status=0
    peak_mib=$(python3 - "$SKIFF" "$@" 2>"$TEST_TMP/$name.err" <<'PY'
import resource, subprocess, sys
result = subprocess.run(sys.argv[1:], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, timeout=120)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024)
sys.exit(result.returncode)
PY
) || status=$?
    echo "--- skiff $* -> exit $status, peak RSS $peak_mib MiB"
    sed 's/^/  err| /' "$TEST_TMP/$name.err" | tail -n 3
}

truncate -s 1G "$TEST_TMP/big.bin"
peak_rss_mib not_kernel run --memory 2048 --kernel "$TEST_TMP/big.bin"
expect_status 1
expect_error not_kernel "not a kernel skiff can boot \(1073741824 bytes\)"
[ "$peak_mib" -lt 64 ] || fail "a 1 GiB non-kernel cost $peak_mib MiB of RSS (read whole before its magic?)"

# 256 MiB of initrd; where /dev/kvm works the test guest shuts down at once.
head -c $((256 * 1024 * 1024)) /dev/urandom >"$TEST_TMP/initrd.bin"
peak_rss_mib initrd_once "${run_flags[@]}" --memory 512 --kernel "$GUEST" --initrd "$TEST_TMP/initrd.bin"
[ "$peak_mib" -lt 384 ] || fail "a 256 MiB initrd cost $peak_mib MiB of RSS (read twice?)"
[ "$peak_mib" -ge 256 ] || fail "a 256 MiB initrd cost only $peak_mib MiB of RSS: was it loaded at all?"

# --serial file:KERNEL must not truncate the kernel when start-up fails.
if { [ -c /dev/kvm ] && exec 3<>/dev/kvm; } 2>/dev/null; then
    exec 3>&-
    echo "/dev/kvm works here: start-up would succeed; the console-file check runs where it does not"
else
    cp "$GUEST" "$TEST_TMP/kernel.elf"
    size=$(stat -c %s "$TEST_TMP/kernel.elf")
    bounded serial_kernel "${run_flags[@]}" --kernel "$TEST_TMP/kernel.elf" --serial "file:$TEST_TMP/kernel.elf"
    expect_status 1
    [ "$(stat -c %s "$TEST_TMP/kernel.elf")" = "$size" ] || fail "--serial file: emptied the file before start-up"
fi
echo "PASS: FIFOs, directories and devices refused; 1 GiB non-kernel at $peak_mib MiB; no early truncation"
