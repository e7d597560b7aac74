// The IDT: the 32 exception vectors, which report and stop the machine,
// and the kernel-call gate that user mode may invoke. Vectors in between
// are not present, so a stray interrupt shows up as a reported #NP.
#include "console.h"
#include "descriptor_tables.h"
#include "emulator_check.h"
#include "io.h"
#include "x86.h"

#include <stdbool.h>
#include <stdint.h>

struct interrupt_gate {
    uint16_t offset_low;
    uint16_t selector;
    uint8_t ist;
    uint8_t type;  // present, DPL, 64-bit interrupt gate (0xe)
    uint16_t offset_middle;
    uint32_t offset_high;
    uint32_t reserved;
} __attribute__((packed));

#define GATE_KERNEL 0x8e
#define GATE_USER 0xee

extern const uint64_t exception_stub_table[EXCEPTION_VECTORS];
extern char kernel_call_stub[];

// In .data rather than .bss: user_entry clears .bss after this is in use.
static struct interrupt_gate idt[IDT_ENTRIES] __attribute__((section(".data")));

static void set_gate(unsigned vector, uint64_t handler, uint8_t type, uint8_t ist) {
    idt[vector] = (struct interrupt_gate){
        .offset_low = (uint16_t)handler,
        .selector = SELECTOR_KERNEL_CODE,
        .ist = ist,
        .type = type,
        .offset_middle = (uint16_t)(handler >> 16),
        .offset_high = (uint32_t)(handler >> 32),
    };
}

void idt_install(void) {
    for (unsigned vector = 0; vector < EXCEPTION_VECTORS; ++vector) {
        set_gate(vector, exception_stub_table[vector], GATE_KERNEL,
                 vector == VECTOR_DOUBLE_FAULT ? DOUBLE_FAULT_IST : 0);
    }
    set_gate(KERNEL_CALL_VECTOR, (uint64_t)(uintptr_t)kernel_call_stub, GATE_USER, 0);
    const struct descriptor_table_pointer pointer = {
        .limit = sizeof(idt) - 1,
        .base = (uint64_t)(uintptr_t)idt,
    };
    __asm__ volatile("lidt %0" : : "m"(pointer) : "memory");
}

// A fault is a bug in the guest (or in the VMM's emulation of it): say
// where, then stop with a triple fault rather than the i8042 reset, so the
// VMM can tell a crash from a clean shutdown.
// Breakpoints the forced-emulation check expects (see emulator_check.c).
volatile uint64_t breakpoints_expected;
volatile uint64_t breakpoints_taken;

#define VECTOR_GENERAL_PROTECTION 13

// Completes, at CPL0, a port I/O or cli/sti instruction that faulted at
// CPL3. The drop to user mode sets IOPL 3, so on hardware (and nested KVM
// with SVM) these never fault; a host whose KVM runs guest user mode in
// host user mode (kvm_pvm) does not honour IOPL and raises #GP instead.
// Returns false for any other instruction. Only the forms the test guest
// uses: in/out with DX or an 8-bit port, 8/16/32 bits.
static bool complete_user_io(struct interrupt_frame *frame) {
    if (frame->vector != VECTOR_GENERAL_PROTECTION || frame->error_code != 0 || (frame->cs & 3) != 3) {
        return false;
    }
    const uint8_t *code = (const uint8_t *)frame->rip;
    unsigned length = 0;
    bool operand16 = false;
    if (code[0] == 0x66) {
        operand16 = true;
        ++length;
    }
    uint8_t opcode = code[length++];
    uint16_t port = (uint16_t)frame->rdx;
    if (opcode >= 0xe4 && opcode <= 0xe7) {
        port = code[length++];
    } else if (opcode == 0xfa || opcode == 0xfb) {
        // cli/sti: the guest's own interrupt flag, in the frame iret restores.
        frame->rflags = opcode == 0xfa ? frame->rflags & ~0x200ull : frame->rflags | 0x200ull;
        frame->rip += length;
        return !operand16;
    } else if (opcode < 0xec || opcode > 0xef) {
        return false;
    }
    bool byte = (opcode & 1) == 0;
    bool out = (opcode & 2) != 0;
    if (out) {
        if (byte) {
            outb(port, (uint8_t)frame->rax);
        } else if (operand16) {
            outw(port, (uint16_t)frame->rax);
        } else {
            outl(port, (uint32_t)frame->rax);
        }
    } else if (byte) {
        frame->rax = (frame->rax & ~0xffull) | inb(port);
    } else if (operand16) {
        frame->rax = (frame->rax & ~0xffffull) | inw(port);
    } else {
        frame->rax = inl(port);  // a 32-bit result zero-extends
    }
    frame->rip += length;
    return true;
}

void exception_handler(struct interrupt_frame *frame) {
    if (frame->vector == VECTOR_BREAKPOINT && breakpoints_expected > 0) {
        --breakpoints_expected;
        ++breakpoints_taken;
        return;
    }
    if (complete_user_io(frame)) {
        return;
    }
    console_printf("skiff-testguest: exception vector=%lu error=%#lx rip=%#lx cs=%#lx "
                   "rsp=%#lx rflags=%#lx",
                   frame->vector, frame->error_code, frame->rip, frame->cs, frame->rsp,
                   frame->rflags);
    if (frame->vector == VECTOR_PAGE_FAULT) {
        console_printf(" cr2=%#lx", read_cr2());
    }
    console_printf("\n");
    x86_triple_fault();
}

void kernel_call_handler(struct interrupt_frame *frame) {
    switch (frame->rax) {
    case KERNEL_CALL_TRIPLE_FAULT:
        x86_triple_fault();
    case KERNEL_CALL_EMULATOR_INT3:
        frame->rax = emulator_check_int3();
        return;
    case KERNEL_CALL_EMULATOR_CMPXCHG16B:
        frame->rax = emulator_check_cmpxchg16b();
        return;
    default:
        frame->rax = (uint64_t)-1;
        return;
    }
}
