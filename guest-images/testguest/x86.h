// The guest's own x86 environment: segments, interrupt vectors and the one
// gate user mode uses to ask CPL0 for something. Shared by C and assembly.
#pragma once

// GDT selectors. The order kernel code, kernel data, user data, user code
// is the one SYSCALL/SYSRET would need, should the guest ever use them.
#define SELECTOR_KERNEL_CODE 0x08
#define SELECTOR_KERNEL_DATA 0x10
#define SELECTOR_USER_DATA 0x18
#define SELECTOR_USER_CODE 0x20
#define SELECTOR_TSS 0x28
#define GDT_ENTRIES 7  // null, 4 segments, and the TSS (two slots)

#define PRIVILEGE_USER 3

// RFLAGS for user mode: IOPL 3 (port I/O, cli/sti allowed at CPL3), bit 1
// (always set), interrupts off until a driver wants them.
#define USER_RFLAGS 0x3002

// Vectors 0-31 are the CPU's exceptions; KERNEL_CALL_VECTOR is a DPL3 gate.
#define EXCEPTION_VECTORS 32
#define VECTOR_DOUBLE_FAULT 8
#define VECTOR_PAGE_FAULT 14
#define KERNEL_CALL_VECTOR 0x80
#define IDT_ENTRIES (KERNEL_CALL_VECTOR + 1)

// What user mode can ask of CPL0 (number in RAX, result in RAX).
#define KERNEL_CALL_TRIPLE_FAULT 1
#define KERNEL_CALL_EMULATOR_INT3 2
#define KERNEL_CALL_EMULATOR_CMPXCHG16B 3
#define VECTOR_BREAKPOINT 3

// How the guest was entered; passed from the entry code to user mode.
#define BOOT_PROTOCOL_PVH 1      // EBX/ESI: struct hvm_start_info
#define BOOT_PROTOCOL_LINUX64 2  // RSI: struct boot_params (zero page)

#define KERNEL_STACK_SIZE 0x4000
#define DOUBLE_FAULT_STACK_SIZE 0x1000
#define USER_STACK_SIZE 0x10000

#ifndef __ASSEMBLER__

#include <stdint.h>

// The registers an interrupt stub saves, lowest address first, then what
// the CPU pushed. The layout is the stub's push order in interrupts.S.
struct interrupt_frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector;
    uint64_t error_code;  // 0 for vectors without one
    uint64_t rip, cs, rflags, rsp, ss;
};

// CPL0 set-up, called once from start.S before the drop to user mode: GDT's
// TSS descriptor, TR, IDT. Page tables and the GDT itself are static data.
void x86_setup(void);
void gdt_install_tss(void);
void idt_install(void);

// Stops the machine at once (CPL0 only): loads an empty IDT and faults, so
// the CPU cannot deliver the fault and shuts down (KVM_EXIT_SHUTDOWN; QEMU
// resets, or exits with -no-reboot).
__attribute__((noreturn)) void x86_triple_fault(void);

// Called by the interrupt stubs. Returns only for an expected breakpoint, or
// after completing a port I/O that faulted at CPL3 (a host ignoring IOPL).
void exception_handler(struct interrupt_frame *frame);
void kernel_call_handler(struct interrupt_frame *frame);

// User-mode side of the kernel-call gate.
static inline uint64_t kernel_call(uint64_t number) {
    uint64_t result = number;
    __asm__ volatile("int %1" : "+a"(result) : "i"(KERNEL_CALL_VECTOR) : "memory");
    return result;
}

// The time-stamp counter; readable at CPL3 (CR4.TSD stays clear). Its rate
// is unknown to the guest, so it only paces things roughly.
static inline uint64_t read_tsc(void) {
    uint32_t low, high;
    __asm__ volatile("rdtsc" : "=a"(low), "=d"(high));
    return (uint64_t)high << 32 | low;
}

static inline uint64_t read_cr2(void) {
    uint64_t value;
    __asm__ volatile("mov %%cr2, %0" : "=r"(value));
    return value;
}

#endif
