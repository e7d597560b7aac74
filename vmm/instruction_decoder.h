// Just enough of the x86-64 instruction format to complete the few
// instructions KVM's emulator refuses (vmm/instruction_completion.h):
// legacy prefixes, REX, ModRM/SIB with displacements, RIP-relative
// addressing and segment overrides, in 64-bit mode only. Every read is
// bounds-checked against the bytes given; running out is an error.
#pragma once

#include "vmm/result.h"

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

namespace skiff::x86 {

// The architectural limit; longer encodings fault on hardware.
inline constexpr size_t kMaxInstructionLength = 15;

enum class Segment { Es, Cs, Ss, Ds, Fs, Gs };

struct Prefixes {
    bool lock = false;              // F0
    bool repeat = false;            // F3
    bool repeat_not_equal = false;  // F2
    bool operand_size = false;      // 66
    bool address_size = false;      // 67
    std::optional<Segment> segment; // the last override given
    uint8_t rex = 0;                // 0x40-0x4F, or 0 when none precedes the opcode
    size_t length = 0;              // prefix bytes, REX included

    [[nodiscard]] bool rex_w() const { return (rex & 0x8) != 0; }
    [[nodiscard]] bool rex_r() const { return (rex & 0x4) != 0; }
    [[nodiscard]] bool rex_x() const { return (rex & 0x2) != 0; }
    [[nodiscard]] bool rex_b() const { return (rex & 0x1) != 0; }
    [[nodiscard]] bool any_legacy() const {
        return lock || repeat || repeat_not_equal || operand_size || address_size || segment.has_value();
    }
};

// Legacy prefixes and REX at the start of `bytes`. A REX followed by a
// legacy prefix is ignored, as the processor does. Error when the bytes end
// before an opcode or the prefixes alone reach 15 bytes.
[[nodiscard]] Result<Prefixes> decode_prefixes(std::span<const uint8_t> bytes);

// A decoded ModRM (+ SIB + displacement). Register numbers include the REX
// extension bits (0 = rax ... 15 = r15).
struct ModRm {
    uint8_t mod = 0;
    uint8_t reg = 0;         // ModRM.reg | REX.R << 3
    uint8_t reg_field = 0;   // ModRM.reg alone (the opcode extension of /digit forms)
    uint8_t rm = 0;          // register operand when mod == 3: ModRM.rm | REX.B << 3
    std::optional<uint8_t> base;   // memory forms: none for RIP-relative and [disp32]
    std::optional<uint8_t> index;  // none when SIB.index = 100 without REX.X
    uint8_t scale = 1;
    int64_t displacement = 0;
    bool rip_relative = false;
    size_t length = 0;       // ModRM, SIB and displacement bytes

    [[nodiscard]] bool is_register() const { return mod == 3; }
};

// Decodes the ModRM at bytes[offset].
[[nodiscard]] Result<ModRm> decode_modrm(std::span<const uint8_t> bytes, size_t offset, const Prefixes& prefixes);

struct MemoryAddress {
    uint64_t linear = 0;
    bool stack_segment = false;  // SS applies: a bad address is #SS, not #GP
};

// The linear address of a memory operand. `next_rip` is the address of the
// next instruction (the base of RIP-relative operands). In 64-bit mode only
// FS and GS have a base; a 0x67 prefix truncates the effective address to
// 32 bits before the base is added.
[[nodiscard]] MemoryAddress memory_address(const ModRm& modrm, const Prefixes& prefixes, const kvm_regs& regs,
                                           const kvm_sregs& sregs, uint64_t next_rip);

// Canonical: bits 63..47 (63..56 with CR4.LA57) all equal.
[[nodiscard]] bool is_canonical(uint64_t address, const kvm_sregs& sregs);

// General-purpose register by encoding number (0 = rax, 1 = rcx, 2 = rdx,
// 3 = rbx, 4 = rsp, 5 = rbp, 6 = rsi, 7 = rdi, 8..15 = r8..r15).
[[nodiscard]] __u64& general_register(kvm_regs& regs, uint8_t number);
[[nodiscard]] __u64 general_register(const kvm_regs& regs, uint8_t number);

}  // namespace skiff::x86
