// A stand-in for skiff's Linux 64-bit boot, so the test guest's ELF entry
// can be checked under QEMU, which only boots ELF kernels through PVH:
//   qemu-system-x86_64 -M microvm -kernel linux64-shim.elf \
//       -device loader,file=testguest.elf -append "..."
// QEMU enters this shim through its own PVH note; the shim builds the
// state skiff's layout (boot/layout.h) promises a 64-bit kernel — GDT at
// 0x500, zero page at 0x7000 with cmd_line_ptr, identity page tables at
// 0x9000 for 0-4 GiB, RSP 0x8ff0 — and jumps to linux64_entry, whose
// address comes from the test guest's symbols (ld --just-symbols).
// acpi_rsdp_addr stays 0, so the guest has to find the RSDP itself.

#define ZERO_PAGE 0x7000
#define BOOT_PARAMS_CMD_LINE_PTR 0x228
#define GDT 0x500
#define GDT_POINTER 0x540
#define PML4 0x9000
#define PDPT 0xa000
#define PD 0xb000
#define LOW_STATE_START 0x500
#define LOW_STATE_END 0x10000
#define BOOT_STACK 0x8ff0
#define BOOT_CS 0x10
#define BOOT_DS 0x18
#define HVM_START_INFO_CMDLINE 24

        .section .note.Xen, "a", @note
        .balign 4
        .long 2f - 1f, 4f - 3f, 18  // XEN_ELFNOTE_PHYS32_ENTRY
1:      .asciz "Xen"
2:      .balign 4
3:      .quad shim_entry
4:      .balign 4

        .text
        .code32
        .globl shim_entry
shim_entry:
        cli
        cld
        movl HVM_START_INFO_CMDLINE(%ebx), %edx
        movl $LOW_STATE_START, %edi
        movl $(LOW_STATE_END - LOW_STATE_START), %ecx
        xorl %eax, %eax
        rep stosb
        movl %edx, ZERO_PAGE + BOOT_PARAMS_CMD_LINE_PTR

        // GDT: null, null, 64-bit code (0x10), data (0x18), as Linux wants.
        movl $0x0000ffff, GDT + BOOT_CS
        movl $0x00af9a00, GDT + BOOT_CS + 4
        movl $0x0000ffff, GDT + BOOT_DS
        movl $0x00cf9200, GDT + BOOT_DS + 4
        movw $0x1f, GDT_POINTER
        movl $GDT, GDT_POINTER + 2
        lgdt GDT_POINTER

        // Identity map of 0-4 GiB in 2 MiB pages, supervisor only, as a
        // VMM would build it: the guest must bring its own U/S tables.
        movl $(PDPT | 3), PML4
        movl $(PD | 3), PDPT
        movl $(PD + 0x1000 | 3), PDPT + 8
        movl $(PD + 0x2000 | 3), PDPT + 16
        movl $(PD + 0x3000 | 3), PDPT + 24
        movl $PD, %edi
        movl $0x83, %eax
        movl $2048, %ecx
5:      movl %eax, (%edi)
        addl $0x200000, %eax
        addl $8, %edi
        loop 5b

        movl %cr4, %eax
        orl $0x20, %eax             // PAE
        movl %eax, %cr4
        movl $PML4, %eax
        movl %eax, %cr3
        movl $0xc0000080, %ecx      // EFER
        rdmsr
        orl $0x100, %eax            // LME
        wrmsr
        movl %cr0, %eax
        orl $0x80000001, %eax       // PG, PE
        movl %eax, %cr0
        ljmp $BOOT_CS, $shim_long_mode

        .code64
shim_long_mode:
        movl $BOOT_DS, %eax
        movl %eax, %ds
        movl %eax, %es
        movl %eax, %ss
        movq $BOOT_STACK, %rsp
        movq $ZERO_PAGE, %rsi
        movabsq $linux64_entry, %rax
        jmp *%rax

        .section .note.GNU-stack, "", @progbits
