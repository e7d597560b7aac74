// KVM_EXIT_INTERNAL_ERROR handling. On hosts whose KVM emulates guest
// kernel mode (vmm/host_quirks.h), the emulator refuses some instructions
// (int3, clac/stac, popcnt, cmpxchg16b, fnclex, emms); skiff completes those
// itself and resumes the vCPU. Everything else ends the VM with the
// instruction bytes and RIP in the message.
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/kvm.h"

#include <cstdint>
#include <vector>

namespace skiff {

// The bytes at the failing RIP: from the exit (KVM fills them in when it
// can) or read through the vCPU's page tables. At most 15 bytes.
[[nodiscard]] Result<std::vector<uint8_t>> refused_instruction_bytes(const VcpuFd& vcpu,
                                                                    const GuestMemory& memory);

// Always an error: a description of the internal error, with RIP and the
// instruction bytes for emulation failures.
[[nodiscard]] Result<void> describe_emulation_failure(const VcpuFd& vcpu, const GuestMemory& memory);

// How the host's KVM injects a software exception (#BP, #OF) given with
// KVM_SET_VCPU_EVENTS. Hardware KVM (VMX, SVM) treats RIP as pointing at the
// int3/into and advances it itself while injecting; the kvm_pvm host delivers
// the exception with RIP as given, so RIP must already be past it.
enum class SoftExceptionRip { AtInstruction, PastInstruction };

// Completes the refused instruction when it is one skiff knows; ok means the
// vCPU can resume.
[[nodiscard]] Result<void> complete_refused_instruction(const VcpuFd& vcpu, const GuestMemory& memory,
                                                        SoftExceptionRip soft_exception_rip);

}  // namespace skiff
