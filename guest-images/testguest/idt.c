// The IDT: the 32 exception vectors, which report and stop the machine,
// and the kernel-call gate that user mode may invoke. Vectors in between
// are not present, so a stray interrupt shows up as a reported #NP.
#include "console.h"
#include "descriptor_tables.h"
#include "emulator_check.h"
#include "x86.h"

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

void exception_handler(struct interrupt_frame *frame) {
    if (frame->vector == VECTOR_BREAKPOINT && breakpoints_expected > 0) {
        --breakpoints_expected;
        ++breakpoints_taken;
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
