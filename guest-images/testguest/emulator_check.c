#include "emulator_check.h"

#define FORCED_EMULATION "ud2; .ascii \"kvm\"; "

uint64_t emulator_check_int3(void) {
    breakpoints_taken = 0;
    breakpoints_expected = 1;
    __asm__ volatile(FORCED_EMULATION "int3" : : : "memory");
    breakpoints_expected = 0;
    return breakpoints_taken == 1;
}

uint64_t emulator_check_cmpxchg16b(void) {
    static volatile uint64_t target[2] __attribute__((aligned(16)));
    target[0] = 0x1111;
    target[1] = 0x2222;
    // First with the right expected value (stores rcx:rbx), then with a
    // stale one (loads the memory into rdx:rax).
    uint64_t low = 0x1111, high = 0x2222;
    uint8_t swapped = 0;
    __asm__ volatile(FORCED_EMULATION "lock cmpxchg16b %[memory]; setz %[swapped]"
                     : [memory] "+m"(*target), "+a"(low), "+d"(high), [swapped] "=q"(swapped)
                     : "b"((uint64_t)0x3333), "c"((uint64_t)0x4444)
                     : "memory", "cc");
    if (!swapped || target[0] != 0x3333 || target[1] != 0x4444) {
        return 0;
    }
    low = 0x1111;
    high = 0x2222;
    __asm__ volatile(FORCED_EMULATION "lock cmpxchg16b %[memory]; setz %[swapped]"
                     : [memory] "+m"(*target), "+a"(low), "+d"(high), [swapped] "=q"(swapped)
                     : "b"((uint64_t)0x5555), "c"((uint64_t)0x6666)
                     : "memory", "cc");
    return !swapped && low == 0x3333 && high == 0x4444 && target[0] == 0x3333;
}
