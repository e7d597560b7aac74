// The CPUID a vCPU sees: a table of kvm_cpuid_entry2 (what
// KVM_GET_SUPPORTED_CPUID returns and KVM_SET_CPUID2 takes), the per-vCPU
// topology and identity skiff writes into it, and the kvm_cpuid2 buffer the
// ioctl needs. Feature hiding by named template is in vmm/cpu_template.h.
#pragma once

#include "vmm/result.h"

#include <linux/kvm.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <vector>

namespace skiff {

enum class CpuidRegister { Eax, Ebx, Ecx, Edx };

// Where one feature flag lives: leaf (function), subleaf (index), register, bit.
struct CpuidBit {
    uint32_t function;
    uint32_t index;
    CpuidRegister reg;
    uint8_t bit;
};

[[nodiscard]] uint32_t& cpuid_register(kvm_cpuid_entry2& entry, CpuidRegister reg);
[[nodiscard]] uint32_t cpuid_register(const kvm_cpuid_entry2& entry, CpuidRegister reg);

// A CPUID table. An entry whose flags have KVM_CPUID_FLAG_SIGNIFCANT_INDEX
// answers one subleaf; one without answers every subleaf of its leaf.
class CpuidTable {
public:
    CpuidTable() = default;
    explicit CpuidTable(std::vector<kvm_cpuid_entry2> entries) : entries_(std::move(entries)) {}

    [[nodiscard]] const std::vector<kvm_cpuid_entry2>& entries() const { return entries_; }
    [[nodiscard]] size_t size() const { return entries_.size(); }
    [[nodiscard]] bool empty() const { return entries_.empty(); }

    // The entry that answers CPUID(function, index), or nullptr.
    [[nodiscard]] kvm_cpuid_entry2* find(uint32_t function, uint32_t index = 0);
    [[nodiscard]] const kvm_cpuid_entry2* find(uint32_t function, uint32_t index = 0) const;
    // Every entry of a leaf (all its subleaves), in table order.
    [[nodiscard]] std::vector<kvm_cpuid_entry2*> find_all(uint32_t function);

    // Replaces the entry for the same (function, index) — any index when
    // `entry` has no significant index — or appends it.
    void set(const kvm_cpuid_entry2& entry);
    // Removes every subleaf of a leaf; returns how many entries went.
    size_t remove(uint32_t function);
    // Zeroes the four registers of every subleaf of a leaf (the guest then
    // reads "nothing here"), keeping the entries.
    void zero(uint32_t function);

    // The value of one flag, or nothing when the leaf is absent.
    [[nodiscard]] std::optional<bool> bit(CpuidBit flag) const;
    // Sets or clears one flag; false when the leaf is absent (nothing to hide).
    bool set_bit(CpuidBit flag, bool value);
    // Clears `mask` in one register of every subleaf of a leaf, or of one
    // subleaf when `index` is given.
    void clear_bits(uint32_t function, std::optional<uint32_t> index, CpuidRegister reg, uint32_t mask);
    // Keeps only `mask` in one register (an allow-list), same scope rules.
    void keep_bits(uint32_t function, std::optional<uint32_t> index, CpuidRegister reg, uint32_t mask);


private:
    std::vector<kvm_cpuid_entry2> entries_;
};

struct CpuidFilterOptions {
    // Zero the performance-monitoring leaves and flags: skiff gives guests
    // no PMU, and a guest that finds one programs counter MSRs.
    bool hide_performance_monitoring = true;
    // Leaf 1 ECX bit 24. KVM_GET_SUPPORTED_CPUID never reports it because it
    // depends on the in-kernel LAPIC (KVM_CAP_TSC_DEADLINE_TIMER); the VM
    // builder sets this once it knows.
    bool tsc_deadline_timer = false;
};

// The CPUID of vCPU `vcpu_index` of `vcpu_count` (one package, one thread
// per core, APIC ID = vcpu_index), from what KVM supports (after a
// template):
//  - leaf 1: hypervisor bit (ECX 31); EBX[31:24] APIC ID, EBX[23:16]
//    logical processor count; EDX HTT (bit 28) iff vcpu_count > 1.
//  - leaf 4 (Intel caches), each real subleaf: EAX[31:26] cores - 1;
//    EAX[25:14] sharing threads - 1 (0 for L1/L2, cores - 1 for L3).
//  - leaves 0xB and 0x1F (where present): rewritten as SMT (1 thread) and
//    core (vcpu_count) levels plus the invalid terminator, EDX = x2APIC ID.
//  - AMD 0x80000008 ECX: [7:0] cores - 1, [15:12] APIC ID bits;
//    0x8000001E: extended APIC ID, core ID, one thread per core, node 0.
//  - 0x40000000: "KVMKVMKVM\0\0\0" and the highest hypervisor leaf present;
//    0x40000001 (KVM paravirtual features) as KVM reports them.
//  - with hide_performance_monitoring: leaves 6, 0xA, 0x1C, 0x80000022
//    zeroed, PDCM (leaf 1 ECX 15), arch LBR (leaf 7 EDX 19) and AMD
//    PerfCtrExtCore (0x80000001 ECX 23) cleared.
[[nodiscard]] CpuidTable filter_for_vcpu(const CpuidTable& supported, const CpuidFilterOptions& options,
                                         uint32_t vcpu_index, uint32_t vcpu_count);

}  // namespace skiff
