#include "vmm/instruction_completion.h"

#include "vmm/instruction_decoder.h"

#include <algorithm>
#include <array>
#include <cstring>

namespace skiff {

namespace {

using x86::ModRm;
using x86::Prefixes;

constexpr uint64_t kEferLongModeActive = 1ULL << 10;
constexpr uint64_t kCr0MonitorCoprocessor = 1ULL << 1;
constexpr uint64_t kCr0Emulation = 1ULL << 2;
constexpr uint64_t kCr0TaskSwitched = 1ULL << 3;

constexpr uint64_t kFlagCarry = 1ULL << 0;
constexpr uint64_t kFlagParity = 1ULL << 2;
constexpr uint64_t kFlagAdjust = 1ULL << 4;
constexpr uint64_t kFlagZero = 1ULL << 6;
constexpr uint64_t kFlagSign = 1ULL << 7;
constexpr uint64_t kFlagOverflow = 1ULL << 11;
constexpr uint64_t kFlagAlignmentCheck = 1ULL << 18;

// x87 status word: exception flags IE..PE (0-5), SF (6), ES (7), B (15).
constexpr uint16_t kFswExceptionFlags = 0x00FF;
constexpr uint16_t kFswErrorSummary = 0x0080;
constexpr uint16_t kFswBusy = 0x8000;

constexpr uint8_t kRegisterRax = 0;
constexpr uint8_t kRegisterRcx = 1;
constexpr uint8_t kRegisterRdx = 2;
constexpr uint8_t kRegisterRbx = 3;

uint64_t read_le(std::span<const std::byte> bytes) {
    uint64_t value = 0;
    for (size_t i = 0; i < bytes.size() && i < sizeof(value); ++i) {
        value |= static_cast<uint64_t>(bytes[i]) << (8 * i);
    }
    return value;
}

void write_le(std::span<std::byte> bytes, uint64_t value) {
    for (size_t i = 0; i < bytes.size() && i < sizeof(value); ++i) {
        bytes[i] = static_cast<std::byte>(value >> (8 * i));
    }
}

Completion exception(std::string mnemonic, uint8_t vector, std::optional<uint32_t> error_code = std::nullopt) {
    Completion completion;
    completion.kind = Completion::InjectException;
    completion.vector = vector;
    completion.error_code = error_code;
    completion.mnemonic = std::move(mnemonic);
    return completion;
}

// The instruction being completed: its bytes, prefixes and where the
// opcode starts. Errors from here are prefixed by the caller with RIP and
// the bytes.
class Instruction {
public:
    Instruction(std::span<const uint8_t> bytes, const Prefixes& prefixes) : bytes_(bytes), prefixes_(prefixes) {}

    [[nodiscard]] const Prefixes& prefixes() const { return prefixes_; }
    [[nodiscard]] size_t opcode_offset() const { return prefixes_.length; }

    [[nodiscard]] Result<uint8_t> opcode_byte(size_t index) const {
        size_t offset = prefixes_.length + index;
        if (offset >= bytes_.size() || offset >= x86::kMaxInstructionLength) {
            return Error::format("instruction truncated: no opcode byte at {}", offset);
        }
        return bytes_[offset];
    }

    [[nodiscard]] Result<ModRm> modrm(size_t opcode_length) const {
        return x86::decode_modrm(bytes_, prefixes_.length + opcode_length, prefixes_);
    }

private:
    std::span<const uint8_t> bytes_;
    Prefixes prefixes_;
};

Completion completed(std::string mnemonic, VcpuState& state, size_t length) {
    state.regs.rip += length;
    Completion completion;
    completion.kind = Completion::Completed;
    completion.mnemonic = std::move(mnemonic);
    completion.length = static_cast<uint8_t>(length);
    return completion;
}

Result<Completion> unrecognised(std::string_view why) { return Error{std::string(why)}; }

// int3, clac/stac, emms, fnclex take no prefixes: LOCK makes them #UD,
// anything else is an encoding skiff does not claim to know.
std::optional<Result<Completion>> check_no_prefixes(const Prefixes& prefixes, std::string_view mnemonic) {
    if (prefixes.lock) {
        return exception(std::string(mnemonic), kVectorInvalidOpcode);
    }
    if (prefixes.length != 0) {
        return unrecognised(fmt::format("{} with prefixes is not supported", mnemonic));
    }
    return std::nullopt;
}

// Checks a memory operand of `size` bytes: canonical (else #GP(0) or
// #SS(0)). Returns the exception, or nothing when the access may proceed.
std::optional<Completion> operand_fault(std::string_view mnemonic, const x86::MemoryAddress& address, size_t size,
                                        const kvm_sregs& sregs) {
    if (!x86::is_canonical(address.linear, sregs) || !x86::is_canonical(address.linear + size - 1, sregs)) {
        return exception(std::string(mnemonic),
                         address.stack_segment ? kVectorStackFault : kVectorGeneralProtection, 0);
    }
    return std::nullopt;
}

Result<Completion> complete_popcnt(const Instruction& instruction, VcpuState& state, GuestAccess& access) {
    const Prefixes& prefixes = instruction.prefixes();
    if (!prefixes.repeat || prefixes.repeat_not_equal) {
        return unrecognised("0f b8 without a lone F3 prefix is not popcnt");
    }
    if (prefixes.lock) {
        return exception("popcnt", kVectorInvalidOpcode);
    }
    ModRm modrm = TRY(instruction.modrm(2));
    size_t length = instruction.opcode_offset() + 2 + modrm.length;
    size_t size = prefixes.rex_w() ? 8 : (prefixes.operand_size ? 2 : 4);
    uint64_t mask = size == 8 ? ~0ULL : ((1ULL << (8 * size)) - 1);

    uint64_t source = 0;
    if (modrm.is_register()) {
        source = x86::general_register(state.regs, modrm.rm) & mask;
    } else {
        auto address = x86::memory_address(modrm, prefixes, state.regs, state.sregs, state.regs.rip + length);
        if (auto fault = operand_fault("popcnt", address, size, state.sregs)) {
            return *fault;
        }
        std::array<std::byte, 8> buffer{};
        TRY(access.read_virtual(address.linear, std::span(buffer).first(size))
                .context_error(fmt::format("reading {} bytes at {:#x}", size, address.linear)));
        source = read_le(std::span(buffer).first(size));
    }

    uint64_t count = static_cast<uint64_t>(__builtin_popcountll(source));
    auto& destination = x86::general_register(state.regs, modrm.reg);
    destination = size == 2 ? ((destination & ~0xFFFFULL) | count) : count;  // 32-bit writes zero-extend
    state.regs.rflags &= ~(kFlagCarry | kFlagParity | kFlagAdjust | kFlagZero | kFlagSign | kFlagOverflow);
    if (source == 0) {
        state.regs.rflags |= kFlagZero;
    }
    return completed("popcnt", state, length);
}

Result<Completion> complete_cmpxchg(const Instruction& instruction, VcpuState& state, GuestAccess& access) {
    const Prefixes& prefixes = instruction.prefixes();
    ModRm modrm = TRY(instruction.modrm(2));
    if (modrm.reg_field != 1) {
        return unrecognised(fmt::format("0f c7 /{} is not cmpxchg8b/16b", modrm.reg_field));
    }
    bool wide = prefixes.rex_w();
    std::string mnemonic = wide ? "cmpxchg16b" : "cmpxchg8b";
    if (prefixes.operand_size) {
        return unrecognised(fmt::format("{} with a 66 prefix is not supported", mnemonic));
    }
    // F2/F3 before a locked cmpxchg are the XACQUIRE/XRELEASE hints.
    if ((prefixes.repeat || prefixes.repeat_not_equal) && !prefixes.lock) {
        return unrecognised(fmt::format("{} with F2/F3 and no LOCK is not supported", mnemonic));
    }
    if (modrm.is_register()) {
        return exception(mnemonic, kVectorInvalidOpcode);
    }
    size_t length = instruction.opcode_offset() + 2 + modrm.length;
    size_t size = wide ? 16 : 8;
    auto address = x86::memory_address(modrm, prefixes, state.regs, state.sregs, state.regs.rip + length);
    if (auto fault = operand_fault(mnemonic, address, size, state.sregs)) {
        return *fault;
    }
    if (wide && address.linear % 16 != 0) {
        return exception(mnemonic, kVectorGeneralProtection, 0);
    }

    // Halves: low = EAX/RAX (compare) and EBX/RBX (store), high = EDX/RDX, ECX/RCX.
    size_t half = size / 2;
    uint64_t half_mask = wide ? ~0ULL : 0xFFFFFFFFULL;
    auto& rax = x86::general_register(state.regs, kRegisterRax);
    auto& rdx = x86::general_register(state.regs, kRegisterRdx);
    std::array<std::byte, 16> expected{};
    std::array<std::byte, 16> desired{};
    write_le(std::span(expected).first(half), rax & half_mask);
    write_le(std::span(expected).subspan(half, half), rdx & half_mask);
    write_le(std::span(desired).first(half), x86::general_register(state.regs, kRegisterRbx) & half_mask);
    write_le(std::span(desired).subspan(half, half), x86::general_register(state.regs, kRegisterRcx) & half_mask);

    bool equal = TRY(access
                         .compare_exchange_virtual(address.linear, std::span(expected).first(size),
                                                   std::span<const std::byte>(desired).first(size))
                         .context_error(fmt::format("{} on {:#x}", mnemonic, address.linear)));
    if (equal) {
        state.regs.rflags |= kFlagZero;
    } else {
        state.regs.rflags &= ~kFlagZero;
        // 32-bit writes (cmpxchg8b) zero-extend, as everywhere in 64-bit mode.
        rax = read_le(std::span(expected).first(half));
        rdx = read_le(std::span(expected).subspan(half, half));
    }
    return completed(mnemonic, state, length);
}

Result<Completion> complete_two_byte(const Instruction& instruction, VcpuState& state, GuestAccess& access) {
    const Prefixes& prefixes = instruction.prefixes();
    uint8_t opcode = TRY(instruction.opcode_byte(1));
    if (opcode == 0x01) {
        uint8_t function = TRY(instruction.opcode_byte(2));
        if (function != 0xCA && function != 0xCB) {
            return unrecognised("0f 01 group other than clac/stac");
        }
        std::string mnemonic = function == 0xCA ? "clac" : "stac";
        if (auto refused = check_no_prefixes(prefixes, mnemonic)) {
            return std::move(*refused);
        }
        if ((state.sregs.cs.selector & 3) != 0) {
            return exception(mnemonic, kVectorInvalidOpcode);
        }
        if (function == 0xCA) {
            state.regs.rflags &= ~kFlagAlignmentCheck;
        } else {
            state.regs.rflags |= kFlagAlignmentCheck;
        }
        return completed(mnemonic, state, 3);
    }
    if (opcode == 0x77) {
        if (auto refused = check_no_prefixes(prefixes, "emms")) {
            return std::move(*refused);
        }
        Completion completion = completed("emms", state, 2);
        completion.kind = Completion::EmptyFpuTags;
        return completion;
    }
    if (opcode == 0xB8) {
        return complete_popcnt(instruction, state, access);
    }
    if (opcode == 0xC7) {
        return complete_cmpxchg(instruction, state, access);
    }
    return unrecognised("not an instruction skiff completes");
}

Result<Completion> complete_fnclex(std::span<const uint8_t> bytes, VcpuState& state, bool waits) {
    size_t start = waits ? 1 : 0;
    if (bytes.size() < start + 2) {
        return Error{"instruction truncated"};
    }
    if (bytes[start] != 0xDB || bytes[start + 1] != 0xE2) {
        return unrecognised(waits ? "fwait followed by something other than fnclex" : "x87 escape other than fnclex");
    }
    Completion completion = completed(waits ? "fclex" : "fnclex", state, start + 2);
    completion.kind = Completion::ClearFpuExceptions;
    completion.waits = waits;
    return completion;
}

Result<Completion> complete_decoded(std::span<const uint8_t> bytes, VcpuState& state, GuestAccess& access) {
    if ((state.sregs.efer & kEferLongModeActive) == 0 || state.sregs.cs.l == 0) {
        return Error{"only 64-bit mode is supported (EFER.LMA and CS.L must be set)"};
    }
    if (bytes.empty()) {
        return Error{"instruction truncated: no bytes"};
    }
    if (bytes[0] == 0x9B) {
        return complete_fnclex(bytes, state, true);
    }
    Prefixes prefixes = TRY(x86::decode_prefixes(bytes));
    Instruction instruction(bytes, prefixes);
    uint8_t opcode = TRY(instruction.opcode_byte(0));
    switch (opcode) {
        case 0xCC: {
            if (auto refused = check_no_prefixes(prefixes, "int3")) {
                return std::move(*refused);
            }
            Completion completion = completed("int3", state, 1);
            completion.kind = Completion::InjectException;
            completion.vector = kVectorBreakpoint;
            return completion;
        }
        case 0xDB: {
            if (auto refused = check_no_prefixes(prefixes, "fnclex")) {
                return std::move(*refused);
            }
            return complete_fnclex(bytes, state, false);
        }
        case 0x0F:
            return complete_two_byte(instruction, state, access);
        default:
            return unrecognised("not an instruction skiff completes");
    }
}

}  // namespace

Result<bool> GuestAccess::compare_exchange_virtual(uint64_t gva, std::span<std::byte> expected,
                                                   std::span<const std::byte> desired) {
    if (expected.size() != desired.size() || (expected.size() != 8 && expected.size() != 16)) {
        return Error::format("compare-exchange of {}/{} bytes: only 8 or 16", expected.size(), desired.size());
    }
    std::array<std::byte, 16> current{};
    auto found = std::span(current).first(expected.size());
    TRY(read_virtual(gva, found));
    if (std::memcmp(found.data(), expected.data(), found.size()) == 0) {
        TRY(write_virtual(gva, desired));
        return true;
    }
    std::memcpy(expected.data(), found.data(), found.size());
    return false;
}

Result<bool> host_compare_exchange(std::byte* host, std::span<std::byte> expected,
                                   std::span<const std::byte> desired) {
    size_t size = expected.size();
    if (desired.size() != size || (size != 8 && size != 16)) {
        return Error::format("compare-exchange of {}/{} bytes: only 8 or 16", size, desired.size());
    }
    if (reinterpret_cast<uintptr_t>(host) % size != 0) {
        return Error::format("compare-exchange of {} bytes on a misaligned host address", size);
    }
    if (size == 8) {
        uint64_t expected_value = read_le(expected);
        uint64_t desired_value = read_le(desired);
        bool equal = __atomic_compare_exchange_n(reinterpret_cast<uint64_t*>(host), &expected_value, desired_value,
                                                 false, __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
        write_le(expected, expected_value);
        return equal;
    }
    uint64_t expected_low = read_le(expected.first(8));
    uint64_t expected_high = read_le(expected.subspan(8));
    uint64_t desired_low = read_le(desired.first(8));
    uint64_t desired_high = read_le(desired.subspan(8));
    bool equal = false;
    // No compiler builtin inlines a 16-byte compare-exchange without
    // -mcx16 or libatomic; the instruction itself is one line.
    asm volatile("lock cmpxchg16b %[memory]"
                 : [memory] "+m"(*reinterpret_cast<unsigned __int128*>(host)), "+a"(expected_low),
                   "+d"(expected_high), "=@ccz"(equal)
                 : "b"(desired_low), "c"(desired_high)
                 : "memory");
    write_le(expected.first(8), expected_low);
    write_le(expected.subspan(8), expected_high);
    return equal;
}

Result<Completion> complete_instruction(std::span<const uint8_t> instruction_bytes, VcpuState& state,
                                        GuestAccess& access) {
    std::span<const uint8_t> bytes =
        instruction_bytes.first(std::min(instruction_bytes.size(), x86::kMaxInstructionLength));
    VcpuState original = state;
    auto result = complete_decoded(bytes, state, access);
    if (!result.ok()) {
        state = original;  // an error leaves the vCPU as it was
        return Error::format("cannot complete instruction at rip {:#x}: {}: {}", original.regs.rip, hex_bytes(bytes),
                             result.error().message);
    }
    return result;
}

Completion finish_fpu_completion(const Completion& completion, VcpuState& state, kvm_fpu& fpu) {
    if (completion.kind != Completion::ClearFpuExceptions && completion.kind != Completion::EmptyFpuTags) {
        return completion;
    }
    const uint64_t cr0 = state.sregs.cr0;
    const uint64_t start = state.regs.rip - completion.length;
    auto fault_at = [&](uint64_t rip, uint8_t vector) {
        state.regs.rip = rip;
        return exception(completion.mnemonic, vector);
    };
    bool pending_x87_exception = (fpu.fsw & kFswErrorSummary) != 0;

    if (completion.kind == Completion::EmptyFpuTags) {
        if ((cr0 & kCr0Emulation) != 0) {
            return fault_at(start, kVectorInvalidOpcode);
        }
        if ((cr0 & kCr0TaskSwitched) != 0) {
            return fault_at(start, kVectorDeviceNotAvailable);
        }
        if (pending_x87_exception) {
            return fault_at(start, kVectorFloatingPointError);
        }
        fpu.ftwx = 0;
    } else {
        uint64_t fnclex_start = start;
        if (completion.waits) {
            if ((cr0 & kCr0TaskSwitched) != 0 && (cr0 & kCr0MonitorCoprocessor) != 0) {
                return fault_at(start, kVectorDeviceNotAvailable);
            }
            if (pending_x87_exception) {
                return fault_at(start, kVectorFloatingPointError);
            }
            fnclex_start = start + 1;  // fwait done; fnclex is its own instruction
        }
        if ((cr0 & (kCr0Emulation | kCr0TaskSwitched)) != 0) {
            return fault_at(fnclex_start, kVectorDeviceNotAvailable);
        }
        fpu.fsw = static_cast<uint16_t>(fpu.fsw & ~(kFswExceptionFlags | kFswBusy));
    }
    Completion done = completion;
    done.kind = Completion::Completed;
    return done;
}

std::string hex_bytes(std::span<const uint8_t> bytes) {
    std::string text;
    for (uint8_t byte : bytes) {
        if (!text.empty()) {
            text += ' ';
        }
        text += fmt::format("{:02x}", byte);
    }
    return text.empty() ? "(no bytes)" : text;
}

}  // namespace skiff
