// Interrupt entry stubs: each pushes a uniform (error code, vector) pair
// on top of the CPU's frame, saves the general registers and passes a
// struct interrupt_frame (x86.h) to C.
#include "x86.h"

.macro SAVE_REGISTERS
        pushq %rax
        pushq %rbx
        pushq %rcx
        pushq %rdx
        pushq %rsi
        pushq %rdi
        pushq %rbp
        pushq %r8
        pushq %r9
        pushq %r10
        pushq %r11
        pushq %r12
        pushq %r13
        pushq %r14
        pushq %r15
.endm

.macro RESTORE_REGISTERS
        popq %r15
        popq %r14
        popq %r13
        popq %r12
        popq %r11
        popq %r10
        popq %r9
        popq %r8
        popq %rbp
        popq %rdi
        popq %rsi
        popq %rdx
        popq %rcx
        popq %rbx
        popq %rax
.endm

// The exceptions for which the CPU pushes an error code.
.macro EXCEPTION_STUB vector
        .balign 16
exception_stub_\vector:
        .if (\vector == 8) || (\vector >= 10 && \vector <= 14) || (\vector == 17) || (\vector == 21) || (\vector == 29) || (\vector == 30)
        .else
        pushq $0
        .endif
        pushq $\vector
        jmp exception_common
.endm

        .text
        .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        EXCEPTION_STUB \vector
        .endr

exception_common:
        SAVE_REGISTERS
        movq %rsp, %rdi
        call exception_handler
        // Returns only for an exception the guest expected (a breakpoint
        // in the forced-emulation check) or one it completed (port I/O at
        // CPL3 on a host that ignores IOPL): resume where the frame says.
        RESTORE_REGISTERS
        addq $16, %rsp
        iretq

        .globl kernel_call_stub
kernel_call_stub:
        pushq $0
        pushq $KERNEL_CALL_VECTOR
        SAVE_REGISTERS
        movq %rsp, %rdi
        call kernel_call_handler
        RESTORE_REGISTERS
        addq $16, %rsp
        iretq

        .section .rodata
        .balign 8
        .globl exception_stub_table
exception_stub_table:
        .irp vector, 0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
        .quad exception_stub_\vector
        .endr

        .section .note.GNU-stack, "", @progbits
