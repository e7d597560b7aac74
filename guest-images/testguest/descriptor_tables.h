// Layouts shared by the GDT and IDT code (Intel SDM vol. 3, ch. 3 and 7).
#pragma once

#include <stdint.h>

// The operand of LGDT/LIDT. In 32-bit mode LGDT reads only the low four
// bytes of the base, so start.S uses the same object before long mode.
struct descriptor_table_pointer {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

// The 64-bit TSS: stacks for privilege changes and for IST entries.
struct task_state_segment {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t io_map_base;
} __attribute__((packed));

// The TSS's IST slot used by the double-fault gate (1-based, as in a gate).
#define DOUBLE_FAULT_IST 1
