#!/usr/bin/env bash
# Boots the ELF32 PVH guest (guest-images/elf32-pvh): a 32-bit ELF loaded by
# p_paddr and entered through its PVH note. The guest writes a line, checks
# the hvm_start_info magic in EBX and resets through the i8042 (exit 0).
# usage: boot_elf32_pvh.sh SKIFF ELF32_PVH_GUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 GUEST=$2
require_kvm

run_skiff boot --log-level info run --kernel "$GUEST" --memory 64 --timeout 60
expect_status 0
expect_output boot '^elf32 pvh guest: hello$'
expect_output boot '^elf32 pvh guest: hvm_start_info magic ok$'
expect_error boot 'PVH 32-bit entry 0x100000'
expect_error boot 'guest reset through the i8042'
echo "PASS: ELF32 PVH guest booted"
