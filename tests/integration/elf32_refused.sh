#!/usr/bin/env bash
# ELF32 images skiff cannot enter: one without the PVH note (its only
# entry), and the PVH guest with --boot-protocol linux64. Both are start-up
# errors (exit 1) with one clear line. Needs no KVM: the image is inspected
# and loaded before /dev/kvm is opened.
# usage: elf32_refused.sh SKIFF ELF32_PVH_GUEST ELF32_NO_NOTE_GUEST
source "$(dirname "$0")/lib.sh"
SKIFF=$1 PVH_GUEST=$2 NO_NOTE_GUEST=$3

run_skiff no_note run --kernel "$NO_NOTE_GUEST"
expect_status 1
expect_error no_note 'ELF32 image without a PVH note \(XEN_ELFNOTE_PHYS32_ENTRY\): skiff boots 32-bit ELF images only through PVH'

run_skiff linux64 run --kernel "$PVH_GUEST" --boot-protocol linux64
expect_status 1
expect_error linux64 'an ELF32 image boots only through PVH'
echo "PASS: ELF32 images without a usable entry refused"
