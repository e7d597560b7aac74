#include "vmm/emulation_failure.h"

#include "vmm/guest_access.h"
#include "vmm/log_limit.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>
#include <set>
#include <string>

namespace skiff {

namespace {

constexpr size_t kMaxInstructionLength = 15;
constexpr uint8_t kVectorOverflow = 4;

// The first completion of each instruction is logged at info level, the
// rest at debug: a guest executing int3 in a loop must not flood the log.
void log_completion(uint32_t vcpu_index, const std::string& mnemonic, uint64_t rip) {
    static std::mutex mutex;
    static std::set<std::string> seen;
    bool first = false;
    {
        std::lock_guard lock(mutex);
        first = seen.insert(mnemonic).second;
    }
    if (first) {
        spdlog::info("host quirks: completed `{}` refused by KVM's emulator (vCPU {}, next rip {:#x}); "
                     "further ones are logged at debug level",
                     mnemonic, vcpu_index, rip);
    } else {
        SKIFF_DEBUG_LIMITED("vCPU {}: completed refused `{}`, next rip {:#x}", vcpu_index, mnemonic, rip);
    }
}

}  // namespace

Result<std::vector<uint8_t>> refused_instruction_bytes(const VcpuFd& vcpu, const GuestMemory& memory) {
    const kvm_run& run = vcpu.run_page();
    if (run.internal.suberror == KVM_INTERNAL_ERROR_EMULATION &&
        (run.emulation_failure.flags & KVM_INTERNAL_ERROR_EMULATION_FLAG_INSTRUCTION_BYTES) != 0 &&
        run.emulation_failure.insn_size > 0) {
        size_t size = std::min<size_t>(run.emulation_failure.insn_size, kMaxInstructionLength);
        return std::vector<uint8_t>(run.emulation_failure.insn_bytes, run.emulation_failure.insn_bytes + size);
    }
    // Older kernels do not report the bytes: fetch them at CS:RIP. Stop at
    // the first unmapped page; a shorter read still decodes most cases.
    kvm_regs registers = TRY(vcpu.registers());
    kvm_sregs special = TRY(vcpu.special_registers());
    VcpuGuestAccess access(vcpu, memory);
    std::vector<uint8_t> bytes;
    uint64_t address = special.cs.base + registers.rip;
    for (size_t i = 0; i < kMaxInstructionLength; ++i) {
        std::byte byte{};
        if (!access.read_virtual(address + i, std::span<std::byte>(&byte, 1)).ok()) {
            break;
        }
        bytes.push_back(static_cast<uint8_t>(byte));
    }
    if (bytes.empty()) {
        return Error::format("instruction at rip {:#x} is not readable", registers.rip);
    }
    return bytes;
}

Result<void> describe_emulation_failure(const VcpuFd& vcpu, const GuestMemory& memory) {
    const kvm_run& run = vcpu.run_page();
    auto registers = vcpu.registers();
    uint64_t rip = registers.ok() ? registers->rip : 0;
    if (run.internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
        std::string data;
        for (uint32_t i = 0; i < std::min<uint32_t>(run.internal.ndata, 16); ++i) {
            data += fmt::format(" {:#x}", static_cast<uint64_t>(run.internal.data[i]));
        }
        return Error::format("internal error at rip {:#x}, data:{}", rip, data.empty() ? " none" : data);
    }
    auto bytes = refused_instruction_bytes(vcpu, memory);
    return Error::format("emulation failure at rip {:#x}, instruction bytes {}", rip,
                         bytes.ok() ? hex_bytes(*bytes) : bytes.error().message);
}

Result<void> complete_refused_instruction(const VcpuFd& vcpu, const GuestMemory& memory,
                                          SoftExceptionRip soft_exception_rip) {
    const kvm_run& run = vcpu.run_page();
    if (run.internal.suberror != KVM_INTERNAL_ERROR_EMULATION) {
        return describe_emulation_failure(vcpu, memory);
    }
    auto bytes = TRY(refused_instruction_bytes(vcpu, memory));
    VcpuState state{TRY(vcpu.registers()), TRY(vcpu.special_registers())};
    VcpuGuestAccess access(vcpu, memory);
    auto completion = complete_instruction(bytes, state, access);
    if (!completion.ok()) {
        return Error::format("emulation failure: {}", completion.error().message);
    }
    Completion done = *completion;
    if (done.kind == Completion::ClearFpuExceptions || done.kind == Completion::EmptyFpuTags) {
        kvm_fpu fpu = TRY(vcpu.fpu());
        done = finish_fpu_completion(done, state, fpu);
        TRY(vcpu.set_fpu(fpu));
    }
    bool soft_exception = done.kind == Completion::InjectException &&
                          (done.vector == kVectorBreakpoint || done.vector == kVectorOverflow);
    if (soft_exception && soft_exception_rip == SoftExceptionRip::AtInstruction) {
        state.regs.rip -= done.length;  // KVM skips the instruction again while injecting
    }
    TRY(vcpu.set_registers(state.regs));
    // KVM queues a #UD for the guest before it reports the failure at CPL0;
    // the completed instruction replaces it: with the exception the
    // completion asks for, or with none.
    kvm_vcpu_events events = TRY(vcpu.events());
    events.flags = 0;
    if (done.kind == Completion::InjectException) {
        events.exception.injected = 1;
        events.exception.nr = done.vector;
        events.exception.has_error_code = done.error_code.has_value() ? 1 : 0;
        events.exception.error_code = done.error_code.value_or(0);
    } else {
        events.exception.injected = 0;
        events.exception.has_error_code = 0;
    }
    TRY(vcpu.set_events(events));
    log_completion(vcpu.index(), done.mnemonic, state.regs.rip);
    return {};
}

}  // namespace skiff
