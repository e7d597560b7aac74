// Named CPU templates: which of the features KVM supports a guest is shown.
//
//  host             everything KVM_GET_SUPPORTED_CPUID reports.
//  baseline         an x86-64-v2 instruction set (SSE3, SSSE3, SSE4.1/4.2,
//                   POPCNT, CMPXCHG16B, LAHF/SAHF) plus widely available
//                   system features (PCLMULQDQ, AES, MOVBE, RDRAND, PCID,
//                   x2APIC, TSC-deadline, FSGSBASE, SMEP, SMAP, ERMS,
//                   INVPCID, CLFLUSHOPT, PREFETCHW) and every speculation-
//                   control flag (so mitigations keep working). Hidden by
//                   allow-list, so future extensions stay hidden too: AVX*,
//                   AVX-512, AMX, FMA, F16C, BMI, XSAVE family (leaf 0xD
//                   zeroed), TSX, PKU, SHA, MPX, SGX, PT, VMX/SVM, ...
//  emulated-kernel  for hosts whose KVM emulates guest kernel mode
//                   (vmm/host_quirks.h): host minus the instructions that
//                   emulator refuses or that Linux executes at CPL0 when
//                   CPUID offers them — XSAVE/OSXSAVE (and every feature
//                   whose state XSAVE manages: AVX family, AVX-512, AMX, PKU,
//                   MPX, CET; leaf 0xD zeroed), POPCNT, CMPXCHG16B, SMAP
//                   (clac/stac), FSGSBASE, RDRAND, RDSEED, MONITOR/MWAIT —
//                   and the vendor string "GenuineIntel": Linux sets
//                   X86_BUG_FXSAVE_LEAK on AMD and then runs fnclex/emms on
//                   every FPU state restore, which that emulator refuses.
#pragma once

#include "vmm/cpuid.h"
#include "vmm/result.h"

#include <string_view>

namespace skiff {

enum class CpuTemplate { Host, Baseline, EmulatedKernel };

// "host", "baseline" or "emulated-kernel"; anything else is an error that
// lists the names.
[[nodiscard]] Result<CpuTemplate> parse_cpu_template(std::string_view name);
[[nodiscard]] std::string_view cpu_template_name(CpuTemplate cpu_template);

// Hides features in `table` (normally KVM's supported CPUID) as the
// template says. Error when the table lacks leaf 0 or 1 for a template that
// edits them.
[[nodiscard]] Result<void> apply_template(CpuidTable& table, CpuTemplate cpu_template);

}  // namespace skiff
