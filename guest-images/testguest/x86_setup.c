// CPL0 set-up after the entry code. Everything that can be static data
// (GDT, page tables, TSS contents) already is; this only does what needs
// the CPU: TR and the IDT.
#include "descriptor_tables.h"
#include "x86.h"

void x86_setup(void) {
    gdt_install_tss();
    idt_install();
}

void x86_triple_fault(void) {
    static const struct descriptor_table_pointer empty = {0, 0};
    __asm__ volatile("lidt %0\n\tud2" : : "m"(empty) : "memory");
    __builtin_unreachable();
}
