// The smallest ELF32 PVH guest: entered through its XEN_ELFNOTE_PHYS32_ENTRY
// note in 32-bit protected mode, paging off, EBX = hvm_start_info (Xen PVH
// start_info ABI). It writes a line to COM1, checks the start_info magic,
// and resets the machine through the i8042. Needs no stack and no RAM of
// its own. Built twice: with the note (-DPVH_NOTE) and without it.
#define COM1 0x3f8
#define I8042_COMMAND 0x64
#define I8042_RESET 0xfe
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

// Writes the bytes [start, end) to COM1 (skiff's UART takes them at once).
.macro print start, end
        movl $\start, %esi
        movl $(\end - \start), %ecx
        movw $COM1, %dx
0:      lodsb
        outb %al, %dx
        loop 0b
.endm

#ifdef PVH_NOTE
// A 4-byte descriptor, as ELF32 producers write it.
        .section .note.Xen, "a", @note
        .balign 4
        .long 2f - 1f
        .long 4f - 3f
        .long XEN_ELFNOTE_PHYS32_ENTRY
1:      .asciz "Xen"
2:      .balign 4
3:      .long pvh_start
4:      .balign 4
#endif

        .code32
        .section .text, "ax", @progbits
        .globl pvh_start
pvh_start:
        cld
        print hello, hello_end
        cmpl $HVM_START_MAGIC, (%ebx)
        jne 1f
        print magic_ok, magic_ok_end
        jmp 2f
1:      print magic_bad, magic_bad_end
2:      movb $I8042_RESET, %al
        outb %al, $I8042_COMMAND
3:      cli
        hlt
        jmp 3b

        .section .rodata, "a", @progbits
hello:  .ascii "elf32 pvh guest: hello\n"
hello_end:
magic_ok:
        .ascii "elf32 pvh guest: hvm_start_info magic ok\n"
magic_ok_end:
magic_bad:
        .ascii "elf32 pvh guest: hvm_start_info magic wrong\n"
magic_bad_end:

        .section .note.GNU-stack, "", @progbits
