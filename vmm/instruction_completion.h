// Completing in user space the instructions KVM's emulator refuses on hosts
// that emulate guest kernel mode (vmm/host_quirks.h): the emulation fails
// with KVM_INTERNAL_ERROR_EMULATION, skiff decodes the bytes at RIP, does
// what the processor would have done to the registers and memory, and the
// vCPU resumes after the instruction. 64-bit mode only.
//
//   int3              RIP += 1, then #BP is injected (a trap: the frame points
//                     after the int3, as Linux's int3 handler expects).
//   clac / stac       RFLAGS.AC cleared / set; #UD outside CPL 0.
//   popcnt r, r/m     16/32/64-bit; ZF = (source == 0); CF OF SF AF PF = 0;
//                     a 32-bit destination is zero-extended, a 16-bit one
//                     keeps bits 63..16.
//   cmpxchg8b m64     compare EDX:EAX (RDX:RAX with REX.W: cmpxchg16b m128,
//   cmpxchg16b m128   16-byte aligned or #GP(0)) with memory: equal -> ZF = 1,
//                     memory = ECX:EBX (RCX:RBX); else ZF = 0, EDX:EAX (RDX:RAX)
//                     = memory. LOCK (and XACQUIRE/XRELEASE) allowed.
//   fnclex / fclex    and emms: the x87 state is not in kvm_regs/kvm_sregs, so
//   emms              these come back as FPU kinds for finish_fpu_completion.
//
// Architectural faults the decode can tell (LOCK on an instruction that takes
// none, a register operand for cmpxchg8b/16b, a non-canonical or misaligned
// operand) come back as InjectException with RIP left at the instruction.
// Not modelled: page faults on the memory operand (the access error ends the
// VM instead) and alignment checking (#AC at CPL 3, where these never reach
// skiff). Anything else is an Error naming RIP and the bytes.
#pragma once

#include "vmm/result.h"

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

namespace skiff {

struct VcpuState {
    kvm_regs regs;
    kvm_sregs sregs;
};

// Guest-virtual memory as the vCPU sees it (its page tables).
class GuestAccess {
public:
    virtual ~GuestAccess() = default;
    [[nodiscard]] virtual Result<void> read_virtual(uint64_t gva, std::span<std::byte> bytes) = 0;
    [[nodiscard]] virtual Result<void> write_virtual(uint64_t gva, std::span<const std::byte> bytes) = 0;

    // Compares the `expected.size()` (8 or 16) bytes at `gva` with
    // `expected`: when equal, stores `desired` and returns true; otherwise
    // copies the bytes found into `expected` and returns false.
    // The default reads, compares and writes: NOT atomic against other vCPUs.
    // An implementation with more than one vCPU should override it with
    // host_compare_exchange on the host mapping of the operand.
    [[nodiscard]] virtual Result<bool> compare_exchange_virtual(uint64_t gva, std::span<std::byte> expected,
                                                                std::span<const std::byte> desired);
};

// An atomic compare-exchange (lock cmpxchg8b / cmpxchg16b) on host memory,
// with the semantics of compare_exchange_virtual. `host` must be aligned to
// the operand size (8 or 16 bytes); otherwise, or for another size, Error.
[[nodiscard]] Result<bool> host_compare_exchange(std::byte* host, std::span<std::byte> expected,
                                                 std::span<const std::byte> desired);

struct Completion {
    enum Kind {
        // Registers (RIP included) and memory are updated: write back the
        // registers and resume.
        Completed,
        // Inject `vector` (with `error_code` when set) via
        // KVM_SET_VCPU_EVENTS after writing back the registers. RIP is what
        // the exception frame needs: past a trap (int3), at a fault.
        InjectException,
        // fnclex/fclex: FSW bits 0-7 (IE DE ZE OE UE PE SF ES) and 15 (B)
        // are cleared. RIP is already past the instruction; call
        // finish_fpu_completion with the vCPU's kvm_fpu.
        ClearFpuExceptions,
        // emms: every x87 tag empty (kvm_fpu.ftwx = 0, the abridged FXSAVE
        // tag byte). Same handling as ClearFpuExceptions.
        EmptyFpuTags,
    };
    Kind kind = Completed;
    uint8_t vector = 0;
    std::optional<uint32_t> error_code;
    std::string mnemonic;
    uint8_t length = 0;  // bytes of the instruction
    bool waits = false;  // fclex (9B DB E2): an fwait comes first
};

inline constexpr uint8_t kVectorBreakpoint = 3;
inline constexpr uint8_t kVectorInvalidOpcode = 6;
inline constexpr uint8_t kVectorDeviceNotAvailable = 7;
inline constexpr uint8_t kVectorStackFault = 12;
inline constexpr uint8_t kVectorGeneralProtection = 13;
inline constexpr uint8_t kVectorFloatingPointError = 16;

// Decodes `instruction_bytes` (the bytes at RIP; at most the first 15 are
// looked at, never beyond the span) and completes the instruction on
// `state` and guest memory. Error for anything not listed above, outside
// 64-bit mode, for truncated bytes and when the memory operand cannot be
// accessed; on error `state` is as it was.
[[nodiscard]] Result<Completion> complete_instruction(std::span<const uint8_t> instruction_bytes, VcpuState& state,
                                                      GuestAccess& access);

// Finishes ClearFpuExceptions / EmptyFpuTags on the vCPU's x87 state, with
// the checks the processor makes first: fnclex #NM when CR0.EM or CR0.TS;
// fclex's fwait #NM when CR0.TS and CR0.MP, #MF when an unmasked exception
// is pending (FSW.ES); emms #UD when CR0.EM, #NM when CR0.TS, #MF when
// FSW.ES. Returns Completed (write back `fpu` and the registers) or
// InjectException (RIP moved back to the faulting instruction, `fpu`
// untouched). Other kinds come back unchanged. CR0.NE = 0 (FERR# signalled
// externally) is treated as NE = 1.
[[nodiscard]] Completion finish_fpu_completion(const Completion& completion, VcpuState& state, kvm_fpu& fpu);

// "0f 01 ca": instruction bytes for error messages.
[[nodiscard]] std::string hex_bytes(std::span<const uint8_t> bytes);

}  // namespace skiff
