// Port I/O and MMIO accessors. The guest's drivers run at CPL3 with
// RFLAGS.IOPL = 3, so every one of these works in user mode too.
#pragma once

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t value) {
    __asm__ volatile("outb %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void outw(uint16_t port, uint16_t value) {
    __asm__ volatile("outw %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline void outl(uint16_t port, uint32_t value) {
    __asm__ volatile("outl %0, %1" : : "a"(value), "Nd"(port) : "memory");
}

static inline uint8_t inb(uint16_t port) {
    uint8_t value;
    __asm__ volatile("inb %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline uint16_t inw(uint16_t port) {
    uint16_t value;
    __asm__ volatile("inw %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

static inline uint32_t inl(uint16_t port) {
    uint32_t value;
    __asm__ volatile("inl %1, %0" : "=a"(value) : "Nd"(port) : "memory");
    return value;
}

// MMIO through volatile pointers of the exact width: a device register must
// be accessed by one instruction of its own size, never split or merged.
static inline void mmio_write8(uint64_t address, uint8_t value) {
    *(volatile uint8_t *)address = value;
}

static inline void mmio_write16(uint64_t address, uint16_t value) {
    *(volatile uint16_t *)address = value;
}

static inline void mmio_write32(uint64_t address, uint32_t value) {
    *(volatile uint32_t *)address = value;
}

static inline void mmio_write64(uint64_t address, uint64_t value) {
    *(volatile uint64_t *)address = value;
}

static inline uint8_t mmio_read8(uint64_t address) {
    return *(const volatile uint8_t *)address;
}

static inline uint16_t mmio_read16(uint64_t address) {
    return *(const volatile uint16_t *)address;
}

static inline uint32_t mmio_read32(uint64_t address) {
    return *(const volatile uint32_t *)address;
}

static inline uint64_t mmio_read64(uint64_t address) {
    return *(const volatile uint64_t *)address;
}

// Orders the guest's memory accesses against a device's view of them (ring
// updates before the notify write, for example). x86 keeps stores in order
// with each other, so a compiler barrier suffices except for store-load.
static inline void compiler_barrier(void) {
    __asm__ volatile("" : : : "memory");
}

static inline void memory_barrier(void) {
    __asm__ volatile("mfence" : : : "memory");
}

// A polite busy-wait step (lets a sibling hyperthread run).
static inline void cpu_relax(void) {
    __asm__ volatile("pause" : : : "memory");
}
