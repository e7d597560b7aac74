// The GDT and TSS. Both are static data so the 32-bit PVH entry can load
// the GDT before any C runs; only the TSS descriptor, which scatters the
// TSS's address over several fields, is filled in at run time.
#include "descriptor_tables.h"
#include "x86.h"

#include <stddef.h>

extern char kernel_stack_top[];
extern char double_fault_stack_top[];

// Access byte: present (0x80), DPL (bits 5-6), code/data (0x10), type.
// Flags nibble: granularity 4 KiB (0x8), 32-bit (0x4), long mode (0x2).
#define SEGMENT(access, flags) \
    (0xffffull | (0xfull << 48) | ((uint64_t)(access) << 40) | ((uint64_t)(flags) << 52))
#define ACCESS_KERNEL_CODE 0x9a  // present, DPL0, execute/read
#define ACCESS_KERNEL_DATA 0x92  // present, DPL0, read/write
#define ACCESS_USER_CODE 0xfa    // present, DPL3, execute/read
#define ACCESS_USER_DATA 0xf2    // present, DPL3, read/write
#define FLAGS_LONG_CODE 0xa
#define FLAGS_DATA 0xc
#define TSS_TYPE_AVAILABLE 0x89  // present, DPL0, available 64-bit TSS

uint64_t gdt[GDT_ENTRIES] = {
    [SELECTOR_KERNEL_CODE / 8] = SEGMENT(ACCESS_KERNEL_CODE, FLAGS_LONG_CODE),
    [SELECTOR_KERNEL_DATA / 8] = SEGMENT(ACCESS_KERNEL_DATA, FLAGS_DATA),
    [SELECTOR_USER_DATA / 8] = SEGMENT(ACCESS_USER_DATA, FLAGS_DATA),
    [SELECTOR_USER_CODE / 8] = SEGMENT(ACCESS_USER_CODE, FLAGS_LONG_CODE),
};

const struct descriptor_table_pointer gdt_pointer = {
    .limit = sizeof(gdt) - 1,
    .base = (uint64_t)(uintptr_t)gdt,
};

// An I/O map base past the segment limit means "no I/O bitmap": port
// access from CPL3 is then decided by IOPL alone (3, see USER_RFLAGS).
static struct task_state_segment tss = {
    .rsp = {(uint64_t)(uintptr_t)kernel_stack_top},
    .ist = {[DOUBLE_FAULT_IST - 1] = (uint64_t)(uintptr_t)double_fault_stack_top},
    .io_map_base = sizeof(struct task_state_segment),
};

void gdt_install_tss(void) {
    const uint64_t base = (uint64_t)(uintptr_t)&tss;
    const uint64_t limit = sizeof(tss) - 1;
    gdt[SELECTOR_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) |
                            ((uint64_t)TSS_TYPE_AVAILABLE << 40) |
                            (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[SELECTOR_TSS / 8 + 1] = base >> 32;
    __asm__ volatile("ltr %w0" : : "r"(SELECTOR_TSS) : "memory");
}
