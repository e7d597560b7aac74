#include "vmm/cpuid.h"

#include <algorithm>
#include <cstring>
#include <memory>
#include <new>

namespace skiff {

namespace {

constexpr uint32_t kLeafFeatures = 1;
constexpr uint32_t kLeafCacheParameters = 4;
constexpr uint32_t kLeafThermalPower = 6;
constexpr uint32_t kLeafExtendedFeatures = 7;
constexpr uint32_t kLeafPerformanceMonitoring = 0xA;
constexpr uint32_t kLeafTopology = 0xB;
constexpr uint32_t kLeafLastBranchRecords = 0x1C;
constexpr uint32_t kLeafTopologyV2 = 0x1F;
constexpr uint32_t kLeafHypervisor = 0x40000000;
constexpr uint32_t kLeafHypervisorLast = 0x400000FF;
constexpr uint32_t kLeafAmdFeatures = 0x80000001;
constexpr uint32_t kLeafAmdAddressSizes = 0x80000008;
constexpr uint32_t kLeafAmdTopology = 0x8000001E;
constexpr uint32_t kLeafAmdPerformanceMonitoring = 0x80000022;

constexpr uint32_t kHypervisorBit = 1U << 31;        // leaf 1 ECX
constexpr uint32_t kTscDeadlineBit = 1U << 24;       // leaf 1 ECX
constexpr uint32_t kPdcmBit = 1U << 15;              // leaf 1 ECX
constexpr uint32_t kHyperThreadingBit = 1U << 28;    // leaf 1 EDX
constexpr uint32_t kArchLbrBit = 1U << 19;           // leaf 7 EDX
constexpr uint32_t kPerfCtrExtCoreBit = 1U << 23;    // 0x80000001 ECX

// "KVMKVMKVM\0\0\0" in EBX, ECX, EDX.
constexpr uint32_t kKvmSignatureEbx = 0x4b4d564b;
constexpr uint32_t kKvmSignatureEcx = 0x564b4d56;
constexpr uint32_t kKvmSignatureEdx = 0x0000004d;

constexpr uint32_t kTopologyLevelSmt = 1;
constexpr uint32_t kTopologyLevelCore = 2;

bool has_significant_index(const kvm_cpuid_entry2& entry) {
    return (entry.flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0;
}

bool answers(const kvm_cpuid_entry2& entry, uint32_t function, uint32_t index) {
    return entry.function == function && (!has_significant_index(entry) || entry.index == index);
}

// Bits needed to number `count` things (0 for one).
uint32_t bits_for(uint32_t count) {
    uint32_t bits = 0;
    while (bits < 32 && (uint64_t{1} << bits) < count) {
        ++bits;
    }
    return bits;
}

uint32_t with_field(uint32_t value, unsigned low_bit, unsigned width, uint32_t field) {
    uint32_t mask = ((width >= 32) ? ~0U : ((1U << width) - 1)) << low_bit;
    return (value & ~mask) | ((field << low_bit) & mask);
}

kvm_cpuid_entry2 topology_entry(uint32_t function, uint32_t subleaf, uint32_t shift, uint32_t processors,
                                uint32_t level_type, uint32_t x2apic_id) {
    kvm_cpuid_entry2 entry{};
    entry.function = function;
    entry.index = subleaf;
    entry.flags = KVM_CPUID_FLAG_SIGNIFCANT_INDEX;
    entry.eax = shift & 0x1F;
    entry.ebx = processors & 0xFFFF;
    entry.ecx = (subleaf & 0xFF) | ((level_type & 0xFF) << 8);
    entry.edx = x2apic_id;
    return entry;
}

// Leaves 0xB/0x1F: only present leaves are rewritten, since a guest reads
// them only when the maximum leaf covers them and the host has them.
void set_extended_topology(CpuidTable& table, uint32_t function, uint32_t vcpu_index, uint32_t vcpu_count) {
    if (table.remove(function) == 0) {
        return;
    }
    table.set(topology_entry(function, 0, 0, 1, kTopologyLevelSmt, vcpu_index));
    table.set(topology_entry(function, 1, bits_for(vcpu_count), vcpu_count, kTopologyLevelCore, vcpu_index));
    table.set(topology_entry(function, 2, 0, 0, 0, vcpu_index));
}

void set_identity_and_topology(CpuidTable& table, uint32_t vcpu_index, uint32_t vcpu_count) {
    if (kvm_cpuid_entry2* features = table.find(kLeafFeatures)) {
        features->ebx = with_field(features->ebx, 24, 8, vcpu_index);
        features->ebx = with_field(features->ebx, 16, 8, std::min<uint32_t>(vcpu_count, 0xFF));
        if (vcpu_count > 1) {
            features->edx |= kHyperThreadingBit;
        } else {
            features->edx &= ~kHyperThreadingBit;
        }
    }

    for (kvm_cpuid_entry2* cache : table.find_all(kLeafCacheParameters)) {
        uint32_t cache_type = cache->eax & 0x1F;
        if (cache_type == 0) {
            continue;  // the "no more caches" subleaf stays all zero
        }
        uint32_t level = (cache->eax >> 5) & 0x7;
        uint32_t sharing = level >= 3 ? vcpu_count : 1;
        cache->eax = with_field(cache->eax, 26, 6, std::min<uint32_t>(vcpu_count, 64) - 1);
        cache->eax = with_field(cache->eax, 14, 12, std::min<uint32_t>(sharing, 4096) - 1);
    }

    set_extended_topology(table, kLeafTopology, vcpu_index, vcpu_count);
    set_extended_topology(table, kLeafTopologyV2, vcpu_index, vcpu_count);

    if (kvm_cpuid_entry2* sizes = table.find(kLeafAmdAddressSizes)) {
        sizes->ecx = with_field(sizes->ecx, 0, 8, std::min<uint32_t>(vcpu_count, 256) - 1);
        sizes->ecx = with_field(sizes->ecx, 12, 4, bits_for(vcpu_count));
    }
    if (kvm_cpuid_entry2* amd_topology = table.find(kLeafAmdTopology)) {
        amd_topology->eax = vcpu_index;                 // extended APIC ID
        amd_topology->ebx = vcpu_index & 0xFF;          // core ID; [15:8] threads per core - 1 = 0
        amd_topology->ecx = 0;                          // node 0, one node per package
        amd_topology->edx = 0;
    }
}

void set_hypervisor_leaves(CpuidTable& table) {
    uint32_t last = kLeafHypervisor;
    for (const kvm_cpuid_entry2& entry : table.entries()) {
        if (entry.function > kLeafHypervisor && entry.function <= kLeafHypervisorLast) {
            last = std::max(last, entry.function);
        }
    }
    kvm_cpuid_entry2 signature{};
    signature.function = kLeafHypervisor;
    signature.eax = last;
    signature.ebx = kKvmSignatureEbx;
    signature.ecx = kKvmSignatureEcx;
    signature.edx = kKvmSignatureEdx;
    table.set(signature);
}

void hide_performance_monitoring(CpuidTable& table) {
    table.zero(kLeafThermalPower);
    table.zero(kLeafPerformanceMonitoring);
    table.zero(kLeafLastBranchRecords);
    table.zero(kLeafAmdPerformanceMonitoring);
    table.clear_bits(kLeafFeatures, std::nullopt, CpuidRegister::Ecx, kPdcmBit);
    table.clear_bits(kLeafExtendedFeatures, 0, CpuidRegister::Edx, kArchLbrBit);
    table.clear_bits(kLeafAmdFeatures, std::nullopt, CpuidRegister::Ecx, kPerfCtrExtCoreBit);
}

}  // namespace

uint32_t& cpuid_register(kvm_cpuid_entry2& entry, CpuidRegister reg) {
    switch (reg) {
        case CpuidRegister::Eax: return entry.eax;
        case CpuidRegister::Ebx: return entry.ebx;
        case CpuidRegister::Ecx: return entry.ecx;
        case CpuidRegister::Edx: break;
    }
    return entry.edx;
}

uint32_t cpuid_register(const kvm_cpuid_entry2& entry, CpuidRegister reg) {
    switch (reg) {
        case CpuidRegister::Eax: return entry.eax;
        case CpuidRegister::Ebx: return entry.ebx;
        case CpuidRegister::Ecx: return entry.ecx;
        case CpuidRegister::Edx: break;
    }
    return entry.edx;
}

kvm_cpuid_entry2* CpuidTable::find(uint32_t function, uint32_t index) {
    for (kvm_cpuid_entry2& entry : entries_) {
        if (answers(entry, function, index)) {
            return &entry;
        }
    }
    return nullptr;
}

const kvm_cpuid_entry2* CpuidTable::find(uint32_t function, uint32_t index) const {
    for (const kvm_cpuid_entry2& entry : entries_) {
        if (answers(entry, function, index)) {
            return &entry;
        }
    }
    return nullptr;
}

std::vector<kvm_cpuid_entry2*> CpuidTable::find_all(uint32_t function) {
    std::vector<kvm_cpuid_entry2*> found;
    for (kvm_cpuid_entry2& entry : entries_) {
        if (entry.function == function) {
            found.push_back(&entry);
        }
    }
    return found;
}

void CpuidTable::set(const kvm_cpuid_entry2& entry) {
    for (kvm_cpuid_entry2& existing : entries_) {
        bool same = existing.function == entry.function &&
                    (!has_significant_index(entry) || !has_significant_index(existing) ||
                     existing.index == entry.index);
        if (same) {
            existing = entry;
            return;
        }
    }
    entries_.push_back(entry);
}

size_t CpuidTable::remove(uint32_t function) {
    return std::erase_if(entries_, [function](const kvm_cpuid_entry2& entry) { return entry.function == function; });
}

void CpuidTable::zero(uint32_t function) {
    for (kvm_cpuid_entry2* entry : find_all(function)) {
        entry->eax = entry->ebx = entry->ecx = entry->edx = 0;
    }
}

std::optional<bool> CpuidTable::bit(CpuidBit flag) const {
    const kvm_cpuid_entry2* entry = find(flag.function, flag.index);
    if (entry == nullptr) {
        return std::nullopt;
    }
    return ((cpuid_register(*entry, flag.reg) >> flag.bit) & 1) != 0;
}

bool CpuidTable::set_bit(CpuidBit flag, bool value) {
    kvm_cpuid_entry2* entry = find(flag.function, flag.index);
    if (entry == nullptr) {
        return false;
    }
    uint32_t& reg = cpuid_register(*entry, flag.reg);
    uint32_t mask = 1U << flag.bit;
    reg = value ? (reg | mask) : (reg & ~mask);
    return true;
}

void CpuidTable::clear_bits(uint32_t function, std::optional<uint32_t> index, CpuidRegister reg, uint32_t mask) {
    for (kvm_cpuid_entry2& entry : entries_) {
        if (entry.function == function && (!index || answers(entry, function, *index))) {
            cpuid_register(entry, reg) &= ~mask;
        }
    }
}

void CpuidTable::keep_bits(uint32_t function, std::optional<uint32_t> index, CpuidRegister reg, uint32_t mask) {
    clear_bits(function, index, reg, ~mask);
}

CpuidTable filter_for_vcpu(const CpuidTable& supported, const CpuidFilterOptions& options, uint32_t vcpu_index,
                           uint32_t vcpu_count) {
    CpuidTable table = supported;
    vcpu_count = std::max<uint32_t>(vcpu_count, 1);
    if (kvm_cpuid_entry2* features = table.find(kLeafFeatures)) {
        features->ecx |= kHypervisorBit;
        if (options.tsc_deadline_timer) {
            features->ecx |= kTscDeadlineBit;
        }
    }
    set_identity_and_topology(table, vcpu_index, vcpu_count);
    set_hypervisor_leaves(table);
    if (options.hide_performance_monitoring) {
        hide_performance_monitoring(table);
    }
    return table;
}

}  // namespace skiff
