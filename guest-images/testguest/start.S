// Entry points. Two ways in, one way on:
//  - pvh_entry: the PVH boot ABI (QEMU, Xen, skiff's PVH path): 32-bit
//    protected mode, paging off, EBX = struct hvm_start_info.
//  - linux64_entry (the ELF entry): the Linux 64-bit boot protocol: long
//    mode, identity paging, RSI = struct boot_params.
// Both switch to the guest's own GDT and page tables, run x86_setup() at
// CPL0 and drop to CPL3, where everything else runs. CPL0 code is kept
// short on purpose: on some hosts it is emulated one instruction at a time.
#include "x86.h"

#define CR0_PE (1 << 0)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define XEN_ELFNOTE_PHYS32_ENTRY 18

// The PVH note. The descriptor is 8 bytes wide, as in Linux's vmlinux:
// QEMU reads a 64-bit value there, Xen-style loaders accept 4 or 8.
        .section .note.Xen, "a", @note
        .balign 4
        .long 2f - 1f
        .long 4f - 3f
        .long XEN_ELFNOTE_PHYS32_ENTRY
1:      .asciz "Xen"
2:      .balign 4
3:      .quad pvh_entry
4:      .balign 4

        .section .text.entry, "ax", @progbits
        .code32
        .globl pvh_entry
        .type pvh_entry, @function
pvh_entry:
        cli
        cld
        movl %ebx, %esi
        movl $BOOT_PROTOCOL_PVH, %edi
        lgdt gdt_pointer
        movl %cr4, %eax
        orl $CR4_PAE, %eax
        movl %eax, %cr4
        movl $page_map_level4, %eax
        movl %eax, %cr3
        movl $MSR_EFER, %ecx
        rdmsr
        orl $EFER_LME, %eax
        wrmsr
        movl %cr0, %eax
        orl $(CR0_PG | CR0_PE), %eax
        movl %eax, %cr0
        ljmp $SELECTOR_KERNEL_CODE, $pvh_long_mode
        .size pvh_entry, . - pvh_entry

        .code64
pvh_long_mode:
        // The upper halves of registers are undefined after the mode switch.
        movl %esi, %esi
        movl %edi, %edi
        jmp common_entry

        .globl linux64_entry
        .type linux64_entry, @function
linux64_entry:
        cli
        cld
        // The protocol promises no usable stack: take ours before any push.
        leaq kernel_stack_top(%rip), %rsp
        movl $BOOT_PROTOCOL_LINUX64, %edi
        lgdt gdt_pointer(%rip)
        leaq page_map_level4(%rip), %rax
        movq %rax, %cr3
        pushq $SELECTOR_KERNEL_CODE
        leaq common_entry(%rip), %rax
        pushq %rax
        lretq
        .size linux64_entry, . - linux64_entry

// RDI = BOOT_PROTOCOL_*, RSI = physical address of the boot information.
common_entry:
        movl $SELECTOR_KERNEL_DATA, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movl %eax, %fs
        movl %eax, %gs
        leaq kernel_stack_top(%rip), %rsp
        movq %rdi, %r12
        movq %rsi, %r13
        call x86_setup
        // IRETQ to CPL3 with IOPL 3. Data selectors of DPL0 are nulled by
        // the privilege change, which is what 64-bit user mode wants.
        pushq $(SELECTOR_USER_DATA | PRIVILEGE_USER)
        leaq user_stack_top(%rip), %rax
        pushq %rax
        pushq $USER_RFLAGS
        pushq $(SELECTOR_USER_CODE | PRIVILEGE_USER)
        leaq user_entry(%rip), %rax
        pushq %rax
        movq %r12, %rdi
        movq %r13, %rsi
        iretq

// First code at CPL3. Clears .bss here, at native speed, rather than at
// CPL0; nothing before this point keeps state in .bss (the stacks live in
// their own section).
        .text
        .type user_entry, @function
user_entry:
        movq %rdi, %r12
        movq %rsi, %r13
        leaq __bss_start(%rip), %rdi
        leaq __bss_end(%rip), %rcx
        subq %rdi, %rcx
        xorl %eax, %eax
        rep stosb
        movq %r12, %rdi
        movq %r13, %rsi
        call testguest_main
        ud2
        .size user_entry, . - user_entry

        .section .stacks, "aw", @nobits
        .balign 16
        .globl kernel_stack_top, double_fault_stack_top
        .space KERNEL_STACK_SIZE
kernel_stack_top:
        .space DOUBLE_FAULT_STACK_SIZE
double_fault_stack_top:
        .space USER_STACK_SIZE
user_stack_top:

        .section .note.GNU-stack, "", @progbits
