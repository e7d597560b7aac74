#!/usr/bin/env bash
# Boots the test guest with N vCPUs through the given boot protocol and
# checks its console and skiff's exit status.
# usage: boot_testguest.sh SKIFF TESTGUEST CPUS PROTOCOL
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2 CPUS=$3 PROTOCOL=$4
require_kvm

run_skiff boot --log-level info run --kernel "$GUEST" --cpus "$CPUS" --memory 64 \
    --boot-protocol "$PROTOCOL" --cmdline "hello from the test" --timeout 120
expect_status 0
expect_output boot '^skiff-testguest: booted'
expect_output boot "^skiff-testguest: cpus=$CPUS\$"
expect_output boot '^skiff-testguest: cmdline=hello from the test'
expect_error boot 'guest boot doorbell: [0-9.]+ ms after skiff started'
expect_error boot 'guest reset through the i8042'
echo "PASS: test guest booted with $CPUS vCPU(s) through $PROTOCOL"
