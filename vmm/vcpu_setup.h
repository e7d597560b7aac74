// Architectural reset state skiff gives every vCPU beyond what KVM sets:
// MSRs, FPU control words, LAPIC local interrupts (LINT0 = ExtINT so the
// PIC works, LINT1 = NMI), as a BIOS would leave them.
#pragma once

#include "vmm/kvm.h"

namespace skiff {

[[nodiscard]] Result<void> setup_vcpu_msrs(const VcpuFd& vcpu);
[[nodiscard]] Result<void> setup_vcpu_fpu(const VcpuFd& vcpu);
[[nodiscard]] Result<void> setup_vcpu_lapic(const VcpuFd& vcpu);

}  // namespace skiff
