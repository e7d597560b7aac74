/*
 * /init of the "spin" initramfs: loops forever without a single system call.
 * It proves the kernel got as far as starting user space, and it keeps the
 * kernel up, on hosts where a guest's user-mode SYSCALL cannot work (KVM
 * there emulates guest kernel mode, and SYSCALL from CPL3 faults). Linked
 * with gcc -nostdlib -static: no libc, no start-up code, nothing else runs.
 */
    .text
    .globl _start
_start:
    pause
    jmp _start

    .section .note.GNU-stack, "", @progbits
