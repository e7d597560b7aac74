#include "vmm/instruction_decoder.h"

namespace skiff::x86 {

namespace {

constexpr uint8_t kRegisterRsp = 4;
constexpr uint8_t kRegisterRbp = 5;
constexpr uint64_t kCr4La57 = 1ULL << 12;

// In encoding order, which is not kvm_regs' field order.
constexpr __u64 kvm_regs::*kRegistersByNumber[16] = {
    &kvm_regs::rax, &kvm_regs::rcx, &kvm_regs::rdx, &kvm_regs::rbx, &kvm_regs::rsp, &kvm_regs::rbp,
    &kvm_regs::rsi, &kvm_regs::rdi, &kvm_regs::r8,  &kvm_regs::r9,  &kvm_regs::r10, &kvm_regs::r11,
    &kvm_regs::r12, &kvm_regs::r13, &kvm_regs::r14, &kvm_regs::r15,
};

Result<uint8_t> byte_at(std::span<const uint8_t> bytes, size_t offset, std::string_view what) {
    if (offset >= bytes.size() || offset >= kMaxInstructionLength) {
        return Error::format("instruction truncated: no {} at byte {}", what, offset);
    }
    return bytes[offset];
}

// Little-endian, sign-extended displacement of `size` (1 or 4) bytes.
Result<int64_t> displacement_at(std::span<const uint8_t> bytes, size_t offset, size_t size) {
    if (offset + size > bytes.size() || offset + size > kMaxInstructionLength) {
        return Error::format("instruction truncated: {}-byte displacement at byte {}", size, offset);
    }
    if (size == 1) {
        return static_cast<int64_t>(static_cast<int8_t>(bytes[offset]));
    }
    uint32_t value = 0;
    for (size_t i = 0; i < size; ++i) {
        value |= static_cast<uint32_t>(bytes[offset + i]) << (8 * i);
    }
    return static_cast<int64_t>(static_cast<int32_t>(value));
}

std::optional<Segment> segment_prefix(uint8_t byte) {
    switch (byte) {
        case 0x26: return Segment::Es;
        case 0x2E: return Segment::Cs;
        case 0x36: return Segment::Ss;
        case 0x3E: return Segment::Ds;
        case 0x64: return Segment::Fs;
        case 0x65: return Segment::Gs;
        default: return std::nullopt;
    }
}

}  // namespace

Result<Prefixes> decode_prefixes(std::span<const uint8_t> bytes) {
    Prefixes prefixes;
    for (size_t offset = 0;; ++offset) {
        if (offset >= kMaxInstructionLength) {
            return Error{"instruction longer than 15 bytes"};
        }
        uint8_t byte = TRY(byte_at(bytes, offset, "opcode"));
        bool legacy = true;
        if (auto segment = segment_prefix(byte)) {
            prefixes.segment = segment;
        } else if (byte == 0xF0) {
            prefixes.lock = true;
        } else if (byte == 0xF2) {
            prefixes.repeat_not_equal = true;
        } else if (byte == 0xF3) {
            prefixes.repeat = true;
        } else if (byte == 0x66) {
            prefixes.operand_size = true;
        } else if (byte == 0x67) {
            prefixes.address_size = true;
        } else if ((byte & 0xF0) == 0x40) {
            prefixes.rex = byte;
            legacy = false;
        } else {
            prefixes.length = offset;
            return prefixes;
        }
        if (legacy) {
            prefixes.rex = 0;  // a REX counts only right before the opcode
        }
    }
}

Result<ModRm> decode_modrm(std::span<const uint8_t> bytes, size_t offset, const Prefixes& prefixes) {
    uint8_t byte = TRY(byte_at(bytes, offset, "ModRM byte"));
    ModRm modrm;
    modrm.mod = static_cast<uint8_t>(byte >> 6);
    modrm.reg_field = static_cast<uint8_t>((byte >> 3) & 7);
    modrm.reg = static_cast<uint8_t>(modrm.reg_field | (prefixes.rex_r() ? 8 : 0));
    uint8_t rm_field = byte & 7;
    modrm.rm = static_cast<uint8_t>(rm_field | (prefixes.rex_b() ? 8 : 0));
    size_t position = offset + 1;
    if (modrm.is_register()) {
        modrm.length = 1;
        return modrm;
    }

    // Special encodings look at the 3-bit fields only: REX.B does not turn
    // rm = 100 into "r12 without SIB" nor mod = 00, rm = 101 into "[r13]".
    size_t displacement_size = modrm.mod == 1 ? 1 : (modrm.mod == 2 ? 4 : 0);
    if (rm_field == 4) {
        uint8_t sib = TRY(byte_at(bytes, position, "SIB byte"));
        ++position;
        modrm.scale = static_cast<uint8_t>(1U << (sib >> 6));
        uint8_t index = static_cast<uint8_t>(((sib >> 3) & 7) | (prefixes.rex_x() ? 8 : 0));
        if (index != 4) {
            modrm.index = index;
        }
        uint8_t base_field = sib & 7;
        if (base_field == 5 && modrm.mod == 0) {
            displacement_size = 4;  // [index * scale + disp32], no base
        } else {
            modrm.base = static_cast<uint8_t>(base_field | (prefixes.rex_b() ? 8 : 0));
        }
    } else if (rm_field == 5 && modrm.mod == 0) {
        modrm.rip_relative = true;
        displacement_size = 4;
    } else {
        modrm.base = modrm.rm;
    }
    if (displacement_size != 0) {
        modrm.displacement = TRY(displacement_at(bytes, position, displacement_size));
        position += displacement_size;
    }
    modrm.length = position - offset;
    return modrm;
}

MemoryAddress memory_address(const ModRm& modrm, const Prefixes& prefixes, const kvm_regs& regs,
                             const kvm_sregs& sregs, uint64_t next_rip) {
    uint64_t effective = static_cast<uint64_t>(modrm.displacement);
    if (modrm.rip_relative) {
        effective += next_rip;
    }
    if (modrm.base) {
        effective += general_register(regs, *modrm.base);
    }
    if (modrm.index) {
        effective += general_register(regs, *modrm.index) * modrm.scale;
    }
    if (prefixes.address_size) {
        effective &= 0xFFFFFFFF;
    }

    MemoryAddress address;
    Segment segment = Segment::Ds;
    if (prefixes.segment) {
        segment = *prefixes.segment;
    } else if (modrm.base && (*modrm.base == kRegisterRsp || *modrm.base == kRegisterRbp)) {
        segment = Segment::Ss;
    }
    address.stack_segment = segment == Segment::Ss;
    uint64_t base = 0;
    if (segment == Segment::Fs) {
        base = sregs.fs.base;
    } else if (segment == Segment::Gs) {
        base = sregs.gs.base;
    }
    address.linear = base + effective;
    return address;
}

bool is_canonical(uint64_t address, const kvm_sregs& sregs) {
    unsigned top_bit = (sregs.cr4 & kCr4La57) != 0 ? 56 : 47;
    int64_t extended = static_cast<int64_t>(address << (63 - top_bit)) >> (63 - top_bit);
    return static_cast<uint64_t>(extended) == address;
}

__u64& general_register(kvm_regs& regs, uint8_t number) {
    return regs.*kRegistersByNumber[number & 15];
}

__u64 general_register(const kvm_regs& regs, uint8_t number) {
    return regs.*kRegistersByNumber[number & 15];
}

}  // namespace skiff::x86
