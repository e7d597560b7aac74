#include "vmm/cpu_template.h"

#include <initializer_list>

namespace skiff {

namespace {

using Reg = CpuidRegister;

constexpr uint32_t bits(std::initializer_list<unsigned> positions) {
    uint32_t mask = 0;
    for (unsigned position : positions) {
        mask |= 1U << position;
    }
    return mask;
}

constexpr uint32_t kLeafVendor = 0;
constexpr uint32_t kLeafFeatures = 1;
constexpr uint32_t kLeafExtendedFeatures = 7;
constexpr uint32_t kLeafXsave = 0xD;
constexpr uint32_t kLeafSgx = 0x12;
constexpr uint32_t kLeafProcessorTrace = 0x14;
constexpr uint32_t kLeafKeyLocker = 0x19;
constexpr uint32_t kLeafTileInformation = 0x1D;
constexpr uint32_t kLeafTmulInformation = 0x1E;
constexpr uint32_t kLeafAvx10 = 0x24;
constexpr uint32_t kLeafAmdFeatures = 0x80000001;

// "GenuineIntel" in EBX, EDX, ECX (that order spells it).
constexpr uint32_t kIntelEbx = 0x756e6547;
constexpr uint32_t kIntelEdx = 0x49656e69;
constexpr uint32_t kIntelEcx = 0x6c65746e;

// --- baseline: allow-lists ---------------------------------------------
// Leaf 1 ECX: SSE3 0, PCLMULQDQ 1, SSSE3 9, CX16 13, PCID 17, SSE4.1 19,
// SSE4.2 20, x2APIC 21, MOVBE 22, POPCNT 23, TSC-deadline 24, AES 25,
// RDRAND 30, hypervisor 31.
constexpr uint32_t kBaselineLeaf1Ecx = bits({0, 1, 9, 13, 17, 19, 20, 21, 22, 23, 24, 25, 30, 31});
// Leaf 7.0 EBX: FSGSBASE 0, TSC_ADJUST 1, FDP_EXCPTN_ONLY 6, SMEP 7, ERMS 9,
// INVPCID 10, FPU CS/DS deprecated 13, SMAP 20, CLFLUSHOPT 23.
constexpr uint32_t kBaselineLeaf7Ebx = bits({0, 1, 6, 7, 9, 10, 13, 20, 23});
// Leaf 7.0 EDX, speculation control only: SRBDS_CTRL 9, MD_CLEAR 10,
// SPEC_CTRL 26, STIBP 27, L1D_FLUSH 28, ARCH_CAPABILITIES 29, SSBD 31.
constexpr uint32_t kBaselineLeaf7Edx = bits({9, 10, 26, 27, 28, 29, 31});
// 0x80000001 ECX: LAHF/SAHF 0, CmpLegacy 1, PREFETCHW 8, TOPOEXT 22.
constexpr uint32_t kBaselineAmdEcx = bits({0, 1, 8, 22});
// 0x80000001 EDX: all but 3DNow! (30, 31).
constexpr uint32_t kBaselineAmdEdx = ~bits({30, 31});

// --- emulated-kernel: deny-lists ---------------------------------------
// Leaf 1 ECX: MONITOR 3, FMA 12, CX16 13, POPCNT 23, XSAVE 26, OSXSAVE 27,
// AVX 28, F16C 29, RDRAND 30.
constexpr uint32_t kEmulatedLeaf1Ecx = bits({3, 12, 13, 23, 26, 27, 28, 29, 30});
// Leaf 7.0 EBX: FSGSBASE 0, AVX2 5, MPX 14, AVX512F 16, AVX512DQ 17,
// RDSEED 18, SMAP 20, AVX512_IFMA 21, AVX512PF 26, AVX512ER 27, AVX512CD 28,
// AVX512BW 30, AVX512VL 31.
constexpr uint32_t kEmulatedLeaf7Ebx = bits({0, 5, 14, 16, 17, 18, 20, 21, 26, 27, 28, 30, 31});
// Leaf 7.0 ECX: AVX512_VBMI 1, PKU 3, OSPKE 4, WAITPKG 5 (umwait/tpause in
// the kernel's delay loop), AVX512_VBMI2 6, CET_SS 7, VAES 9, VPCLMULQDQ 10,
// AVX512_VNNI 11, AVX512_BITALG 12, AVX512_VPOPCNTDQ 14.
constexpr uint32_t kEmulatedLeaf7Ecx = bits({1, 3, 4, 5, 6, 7, 9, 10, 11, 12, 14});
// Leaf 7.0 EDX: AVX512_4VNNIW 2, AVX512_4FMAPS 3, AVX512_VP2INTERSECT 8,
// ARCH_LBR 19, CET_IBT 20, AMX_BF16 22, AVX512_FP16 23, AMX_TILE 24,
// AMX_INT8 25.
constexpr uint32_t kEmulatedLeaf7Edx = bits({2, 3, 8, 19, 20, 22, 23, 24, 25});
// Leaf 7.1 EAX: AVX_VNNI 4, AVX512_BF16 5, AVX_IFMA 23; EDX: AVX_VNNI_INT8 4,
// AVX_NE_CONVERT 5, AVX_VNNI_INT16 10, AVX10 19.
constexpr uint32_t kEmulatedLeaf7Sub1Eax = bits({4, 5, 23});
constexpr uint32_t kEmulatedLeaf7Sub1Edx = bits({4, 5, 10, 19});
// 0x80000001 ECX: XOP 11, FMA4 16, MONITORX 29.
constexpr uint32_t kEmulatedAmdEcx = bits({11, 16, 29});

Result<void> require_leaf(const CpuidTable& table, uint32_t function, CpuTemplate cpu_template) {
    if (table.find(function) == nullptr) {
        return Error::format("CPUID table has no leaf {:#x}: cannot apply CPU template {}", function,
                             cpu_template_name(cpu_template));
    }
    return {};
}

void apply_baseline(CpuidTable& table) {
    table.keep_bits(kLeafFeatures, std::nullopt, Reg::Ecx, kBaselineLeaf1Ecx);
    table.keep_bits(kLeafExtendedFeatures, 0, Reg::Ebx, kBaselineLeaf7Ebx);
    table.keep_bits(kLeafExtendedFeatures, 0, Reg::Ecx, 0);
    table.keep_bits(kLeafExtendedFeatures, 0, Reg::Edx, kBaselineLeaf7Edx);
    for (Reg reg : {Reg::Eax, Reg::Ebx, Reg::Ecx, Reg::Edx}) {
        table.keep_bits(kLeafExtendedFeatures, 1, reg, 0);
    }
    table.keep_bits(kLeafAmdFeatures, std::nullopt, Reg::Ecx, kBaselineAmdEcx);
    table.keep_bits(kLeafAmdFeatures, std::nullopt, Reg::Edx, kBaselineAmdEdx);
    for (uint32_t leaf : {kLeafXsave, kLeafSgx, kLeafProcessorTrace, kLeafKeyLocker, kLeafTileInformation,
                          kLeafTmulInformation, kLeafAvx10}) {
        table.zero(leaf);
    }
}

void apply_emulated_kernel(CpuidTable& table) {
    table.clear_bits(kLeafFeatures, std::nullopt, Reg::Ecx, kEmulatedLeaf1Ecx);
    table.clear_bits(kLeafExtendedFeatures, 0, Reg::Ebx, kEmulatedLeaf7Ebx);
    table.clear_bits(kLeafExtendedFeatures, 0, Reg::Ecx, kEmulatedLeaf7Ecx);
    table.clear_bits(kLeafExtendedFeatures, 0, Reg::Edx, kEmulatedLeaf7Edx);
    table.clear_bits(kLeafExtendedFeatures, 1, Reg::Eax, kEmulatedLeaf7Sub1Eax);
    table.clear_bits(kLeafExtendedFeatures, 1, Reg::Edx, kEmulatedLeaf7Sub1Edx);
    table.clear_bits(kLeafAmdFeatures, std::nullopt, Reg::Ecx, kEmulatedAmdEcx);
    for (uint32_t leaf : {kLeafXsave, kLeafTileInformation, kLeafTmulInformation, kLeafAvx10}) {
        table.zero(leaf);
    }
    kvm_cpuid_entry2* vendor = table.find(kLeafVendor);
    vendor->ebx = kIntelEbx;
    vendor->edx = kIntelEdx;
    vendor->ecx = kIntelEcx;
}

}  // namespace

Result<CpuTemplate> parse_cpu_template(std::string_view name) {
    for (CpuTemplate candidate : {CpuTemplate::Host, CpuTemplate::Baseline, CpuTemplate::EmulatedKernel}) {
        if (name == cpu_template_name(candidate)) {
            return candidate;
        }
    }
    return Error::format("unknown CPU template '{}': expected host, baseline or emulated-kernel", name);
}

std::string_view cpu_template_name(CpuTemplate cpu_template) {
    switch (cpu_template) {
        case CpuTemplate::Host: return "host";
        case CpuTemplate::Baseline: return "baseline";
        case CpuTemplate::EmulatedKernel: break;
    }
    return "emulated-kernel";
}

Result<void> apply_template(CpuidTable& table, CpuTemplate cpu_template) {
    switch (cpu_template) {
        case CpuTemplate::Host:
            return {};
        case CpuTemplate::Baseline:
            TRY(require_leaf(table, kLeafFeatures, cpu_template));
            apply_baseline(table);
            return {};
        case CpuTemplate::EmulatedKernel:
            TRY(require_leaf(table, kLeafVendor, cpu_template));
            TRY(require_leaf(table, kLeafFeatures, cpu_template));
            apply_emulated_kernel(table);
            return {};
    }
    return Error{"unknown CPU template value"};
}

}  // namespace skiff
