#include "vmm/cpu_template.h"
#include "vmm/cpuid.h"

#include <catch2/catch.hpp>

#include <cstring>
#include <string>

namespace {

using skiff::CpuidRegister;
using skiff::CpuidTable;

kvm_cpuid_entry2 entry(uint32_t function, uint32_t index, uint32_t eax, uint32_t ebx, uint32_t ecx, uint32_t edx,
                       bool significant_index = false) {
    kvm_cpuid_entry2 value{};
    value.function = function;
    value.index = index;
    value.flags = significant_index ? KVM_CPUID_FLAG_SIGNIFCANT_INDEX : 0;
    value.eax = eax;
    value.ebx = ebx;
    value.ecx = ecx;
    value.edx = edx;
    return value;
}

std::string vendor_of(const CpuidTable& table) {
    const kvm_cpuid_entry2* leaf = table.find(0);
    char text[13] = {};
    std::memcpy(text, &leaf->ebx, 4);
    std::memcpy(text + 4, &leaf->edx, 4);
    std::memcpy(text + 8, &leaf->ecx, 4);
    return text;
}

bool bit(const CpuidTable& table, uint32_t function, uint32_t index, CpuidRegister reg, uint8_t position) {
    auto value = table.bit({function, index, reg, position});
    REQUIRE(value.has_value());
    return *value;
}

// What KVM_GET_SUPPORTED_CPUID might return on an AMD host with every
// feature flag set, so hiding is visible.
CpuidTable supported_amd() {
    std::vector<kvm_cpuid_entry2> entries = {
        entry(0, 0, 0x1F, 0x68747541, 0x444d4163, 0x69746e65),  // "AuthenticAMD"
        entry(1, 0, 0x00A20F12, 0x00000800, 0x7FFFFFFF, 0xFFFFFFFF),
        entry(4, 0, 0x00000121, 0x01C0003F, 0x3F, 0, true),      // L1 data
        entry(4, 1, 0x00000163, 0x03C0003F, 0x3FFF, 0, true),    // L3
        entry(4, 2, 0, 0, 0, 0, true),                           // end
        entry(6, 0, 0x4, 0, 0x1, 0),
        entry(7, 0, 1, 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, true),
        entry(7, 1, 0xFFFFFFFF, 0, 0, 0xFFFFFFFF, true),
        entry(0xA, 0, 0x07300805, 0, 0, 0x603),
        entry(0xB, 0, 1, 2, 0x100, 7, true),
        entry(0xB, 1, 4, 16, 0x201, 7, true),
        entry(0xD, 0, 0x207, 0x340, 0x988, 0, true),
        entry(0xD, 1, 0xF, 0x340, 0, 0, true),
        entry(0x40000000, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
        entry(0x40000001, 0, 0x01007AFB, 0, 0, 0),
        entry(0x80000000, 0, 0x80000021, 0, 0, 0),
        entry(0x80000001, 0, 0, 0, 0xFFFFFFFF, 0xFFFFFFFF),
        entry(0x80000008, 0, 0x3030, 0x0791EF257, 0x0000700F, 0),
        entry(0x8000001E, 0, 6, 0x0103, 0x0300, 0),
        entry(0x80000022, 0, 7, 0x3F, 0, 0),
    };
    return CpuidTable(std::move(entries));
}

}  // namespace

TEST_CASE("CpuidTable finds by leaf and, where significant, subleaf", "[x86]") {
    CpuidTable table = supported_amd();
    REQUIRE(table.find(1) != nullptr);
    CHECK(table.find(1, 5) == table.find(1));  // index ignored for leaf 1
    REQUIRE(table.find(4, 1) != nullptr);
    CHECK(table.find(4, 1)->eax == 0x163);
    CHECK(table.find(4, 7) == nullptr);
    CHECK(table.find(0x12345) == nullptr);
    CHECK(table.find_all(4).size() == 3);

    table.set(entry(4, 1, 0xAB, 0, 0, 0, true));
    CHECK(table.find(4, 1)->eax == 0xAB);
    CHECK(table.find(4, 0)->eax == 0x121);
    size_t before = table.size();
    table.set(entry(0x40000010, 0, 1, 2, 3, 4));
    CHECK(table.size() == before + 1);
    CHECK(table.remove(4) == 3);
    CHECK(table.find(4) == nullptr);

    CHECK(table.set_bit({1, 0, CpuidRegister::Ecx, 31}, true));
    CHECK(bit(table, 1, 0, CpuidRegister::Ecx, 31));
    CHECK_FALSE(table.set_bit({0x12345, 0, CpuidRegister::Eax, 0}, true));
    CHECK_FALSE(table.bit({0x12345, 0, CpuidRegister::Eax, 0}).has_value());
}

TEST_CASE("filter_for_vcpu writes identity and topology", "[x86]") {
    const CpuidTable supported = supported_amd();
    CpuidTable table = skiff::filter_for_vcpu(supported, {}, 2, 4);

    const kvm_cpuid_entry2* features = table.find(1);
    CHECK((features->ebx >> 24) == 2);
    CHECK(((features->ebx >> 16) & 0xFF) == 4);
    CHECK((features->ebx & 0xFFFF) == 0x0800);  // CLFLUSH size kept
    CHECK(bit(table, 1, 0, CpuidRegister::Ecx, 31));  // hypervisor
    CHECK(bit(table, 1, 0, CpuidRegister::Edx, 28));  // HTT
    CpuidTable without_deadline = supported;
    without_deadline.set_bit({1, 0, CpuidRegister::Ecx, 24}, false);
    CHECK_FALSE(bit(skiff::filter_for_vcpu(without_deadline, {}, 0, 1), 1, 0, CpuidRegister::Ecx, 24));

    // Leaf 4: cores - 1 everywhere; L1 private, L3 shared by all four.
    CHECK((table.find(4, 0)->eax >> 26) == 3);
    CHECK(((table.find(4, 0)->eax >> 14) & 0xFFF) == 0);
    CHECK((table.find(4, 1)->eax >> 26) == 3);
    CHECK(((table.find(4, 1)->eax >> 14) & 0xFFF) == 3);
    CHECK((table.find(4, 1)->eax & 0x3FFF) == 0x163);
    CHECK(table.find(4, 2)->eax == 0);

    // Leaf 0xB: SMT level (1 thread), core level (4, shift 2), terminator.
    REQUIRE(table.find_all(0xB).size() == 3);
    const kvm_cpuid_entry2* smt = table.find(0xB, 0);
    CHECK(smt->eax == 0);
    CHECK(smt->ebx == 1);
    CHECK(smt->ecx == 0x100);
    CHECK(smt->edx == 2);
    const kvm_cpuid_entry2* core = table.find(0xB, 1);
    CHECK(core->eax == 2);
    CHECK(core->ebx == 4);
    CHECK(core->ecx == 0x201);
    CHECK(core->edx == 2);
    const kvm_cpuid_entry2* end = table.find(0xB, 2);
    CHECK(end->ebx == 0);
    CHECK(((end->ecx >> 8) & 0xFF) == 0);
    CHECK((end->flags & KVM_CPUID_FLAG_SIGNIFCANT_INDEX) != 0);
    CHECK(table.find(0x1F) == nullptr);  // absent stays absent

    // AMD leaves.
    CHECK((table.find(0x80000008)->ecx & 0xFF) == 3);
    CHECK(((table.find(0x80000008)->ecx >> 12) & 0xF) == 2);
    CHECK(table.find(0x8000001E)->eax == 2);
    CHECK(table.find(0x8000001E)->ebx == 2);
    CHECK(table.find(0x8000001E)->ecx == 0);

    // KVM's leaves.
    const kvm_cpuid_entry2* signature = table.find(0x40000000);
    char text[12];
    std::memcpy(text, &signature->ebx, 4);
    std::memcpy(text + 4, &signature->ecx, 4);
    std::memcpy(text + 8, &signature->edx, 4);
    CHECK(std::memcmp(text, "KVMKVMKVM\0\0\0", 12) == 0);
    CHECK(signature->eax == 0x40000001);
    CHECK(table.find(0x40000001)->eax == 0x01007AFB);

    // No PMU.
    CHECK(table.find(0xA)->eax == 0);
    CHECK(table.find(0xA)->edx == 0);
    CHECK(table.find(6)->eax == 0);
    CHECK(table.find(0x80000022)->ebx == 0);
    CHECK_FALSE(bit(table, 1, 0, CpuidRegister::Ecx, 15));
    CHECK_FALSE(bit(table, 0x80000001, 0, CpuidRegister::Ecx, 23));
    CHECK_FALSE(bit(table, 7, 0, CpuidRegister::Edx, 19));

    // The input is not modified.
    CHECK(supported.find(1)->ebx == 0x00000800);
    CHECK(supported.find(0xA)->eax == 0x07300805);
}

TEST_CASE("filter_for_vcpu: one vCPU, options, a missing hypervisor leaf and leaf 0x1F", "[x86]") {
    CpuidTable supported = supported_amd();
    supported.remove(0x40000000);
    supported.set(entry(0x1F, 0, 1, 2, 0x100, 0, true));
    supported.find(1)->edx |= 1U << 28;
    supported.set_bit({1, 0, CpuidRegister::Ecx, 24}, false);  // as KVM reports it

    skiff::CpuidFilterOptions options;
    options.hide_performance_monitoring = false;
    options.tsc_deadline_timer = true;
    CpuidTable table = skiff::filter_for_vcpu(supported, options, 0, 1);
    CHECK_FALSE(bit(table, 1, 0, CpuidRegister::Edx, 28));  // one CPU: no HTT
    CHECK(((table.find(1)->ebx >> 16) & 0xFF) == 1);
    CHECK(bit(table, 1, 0, CpuidRegister::Ecx, 24));
    CHECK(table.find(0xA)->eax == 0x07300805);
    CHECK(bit(table, 1, 0, CpuidRegister::Ecx, 15));
    REQUIRE(table.find(0x40000000) != nullptr);
    CHECK(table.find(0x40000000)->eax == 0x40000001);
    CHECK(table.find(0x40000000)->ebx == 0x4b4d564b);
    REQUIRE(table.find_all(0x1F).size() == 3);
    CHECK(table.find(0x1F, 1)->eax == 0);  // one core: no bits
    CHECK(table.find(0x1F, 1)->ebx == 1);
    CHECK(table.find(0x1F, 0)->edx == 0);
    CHECK((table.find(0x80000008)->ecx & 0xFF) == 0);

    // A large VM: APIC ID in EBX[31:24], x2APIC ID in 0xB EDX, shift 6.
    CpuidTable big = skiff::filter_for_vcpu(supported_amd(), {}, 63, 64);
    CHECK((big.find(1)->ebx >> 24) == 63);
    CHECK(big.find(0xB, 1)->eax == 6);
    CHECK(big.find(0xB, 0)->edx == 63);
    CHECK((big.find(4, 0)->eax >> 26) == 63);
}

TEST_CASE("CPU template names parse and print", "[x86]") {
    using skiff::CpuTemplate;
    for (CpuTemplate value : {CpuTemplate::Host, CpuTemplate::Baseline, CpuTemplate::EmulatedKernel}) {
        auto parsed = skiff::parse_cpu_template(skiff::cpu_template_name(value));
        REQUIRE(parsed.ok());
        CHECK(*parsed == value);
    }
    CHECK(skiff::cpu_template_name(CpuTemplate::EmulatedKernel) == "emulated-kernel");
    auto unknown = skiff::parse_cpu_template("Host");
    REQUIRE_FALSE(unknown.ok());
    CHECK_THAT(unknown.error().message, Catch::Contains("'Host'") && Catch::Contains("host, baseline or emulated-kernel"));
    CHECK_FALSE(skiff::parse_cpu_template("").ok());
}

TEST_CASE("host template changes nothing", "[x86]") {
    CpuidTable table = supported_amd();
    REQUIRE(skiff::apply_template(table, skiff::CpuTemplate::Host).ok());
    CpuidTable original = supported_amd();
    REQUIRE(table.size() == original.size());
    CHECK(std::memcmp(table.entries().data(), original.entries().data(),
                      table.size() * sizeof(kvm_cpuid_entry2)) == 0);
    CpuidTable empty;
    CHECK(skiff::apply_template(empty, skiff::CpuTemplate::Host).ok());
}

TEST_CASE("emulated-kernel template hides what the emulator refuses and says GenuineIntel", "[x86]") {
    CpuidTable table = supported_amd();
    REQUIRE(skiff::apply_template(table, skiff::CpuTemplate::EmulatedKernel).ok());
    CHECK(vendor_of(table) == "GenuineIntel");
    CHECK(table.find(0)->eax == 0x1F);  // max leaf kept

    using R = CpuidRegister;
    struct Flag {
        uint32_t function;
        uint32_t index;
        CpuidRegister reg;
        uint8_t bit;
        const char* name;
    };
    for (Flag hidden : {Flag{1, 0, R::Ecx, 26, "XSAVE"}, Flag{1, 0, R::Ecx, 27, "OSXSAVE"},
                        Flag{1, 0, R::Ecx, 28, "AVX"}, Flag{1, 0, R::Ecx, 23, "POPCNT"},
                        Flag{1, 0, R::Ecx, 13, "CX16"}, Flag{1, 0, R::Ecx, 30, "RDRAND"},
                        Flag{1, 0, R::Ecx, 3, "MONITOR"}, Flag{1, 0, R::Ecx, 12, "FMA"},
                        Flag{7, 0, R::Ebx, 20, "SMAP"}, Flag{7, 0, R::Ebx, 0, "FSGSBASE"},
                        Flag{7, 0, R::Ebx, 18, "RDSEED"}, Flag{7, 0, R::Ebx, 5, "AVX2"},
                        Flag{7, 0, R::Ebx, 16, "AVX512F"}, Flag{7, 0, R::Ecx, 3, "PKU"},
                        Flag{7, 0, R::Edx, 24, "AMX_TILE"}, Flag{7, 1, R::Eax, 4, "AVX_VNNI"},
                        Flag{0x80000001, 0, R::Ecx, 16, "FMA4"}}) {
        INFO(hidden.name);
        CHECK_FALSE(bit(table, hidden.function, hidden.index, hidden.reg, hidden.bit));
    }
    for (Flag kept : {Flag{1, 0, R::Ecx, 20, "SSE4.2"}, Flag{1, 0, R::Ecx, 0, "SSE3"},
                      Flag{1, 0, R::Edx, 25, "SSE"}, Flag{7, 0, R::Ebx, 7, "SMEP"},
                      Flag{7, 0, R::Ebx, 9, "ERMS"}, Flag{7, 0, R::Edx, 26, "SPEC_CTRL"},
                      Flag{0x80000001, 0, R::Edx, 29, "LM"}}) {
        INFO(kept.name);
        CHECK(bit(table, kept.function, kept.index, kept.reg, kept.bit));
    }
    for (const kvm_cpuid_entry2* xsave : {table.find(0xD, 0), table.find(0xD, 1)}) {
        REQUIRE(xsave != nullptr);
        CHECK((xsave->eax | xsave->ebx | xsave->ecx | xsave->edx) == 0);
    }

    CpuidTable no_vendor = supported_amd();
    no_vendor.remove(0);
    auto error = skiff::apply_template(no_vendor, skiff::CpuTemplate::EmulatedKernel);
    REQUIRE_FALSE(error.ok());
    CHECK_THAT(error.error().message, Catch::Contains("no leaf 0x0") && Catch::Contains("emulated-kernel"));
}

TEST_CASE("baseline template keeps an x86-64-v2 set and speculation controls", "[x86]") {
    CpuidTable table = supported_amd();
    REQUIRE(skiff::apply_template(table, skiff::CpuTemplate::Baseline).ok());
    CHECK(vendor_of(table) == "AuthenticAMD");
    using R = CpuidRegister;
    // x86-64-v2: SSE3, SSSE3, SSE4.1, SSE4.2, POPCNT, CX16, LAHF/SAHF.
    for (uint8_t kept : {0, 9, 13, 19, 20, 23}) {
        CHECK(bit(table, 1, 0, R::Ecx, kept));
    }
    CHECK(bit(table, 0x80000001, 0, R::Ecx, 0));
    CHECK(table.find(1)->edx == 0xFFFFFFFF);
    // Hidden: XSAVE family, AVX*, FMA, F16C, VMX.
    for (uint8_t hidden : {5, 12, 26, 27, 28, 29}) {
        CHECK_FALSE(bit(table, 1, 0, R::Ecx, hidden));
    }
    // Leaf 7: AVX2 5, HLE 4, RTM 11, AVX512F 16, SHA 29, BMI1 3 hidden; SMEP 7, SMAP 20 kept.
    for (uint8_t hidden : {3, 4, 5, 11, 16, 29, 31}) {
        CHECK_FALSE(bit(table, 7, 0, R::Ebx, hidden));
    }
    CHECK(bit(table, 7, 0, R::Ebx, 7));
    CHECK(bit(table, 7, 0, R::Ebx, 20));
    CHECK(table.find(7, 0)->ecx == 0);  // PKU and friends
    CHECK(table.find(7, 1)->eax == 0);
    for (uint8_t speculation : {10, 26, 27, 28, 29, 31}) {
        CHECK(bit(table, 7, 0, R::Edx, speculation));
    }
    CHECK_FALSE(bit(table, 7, 0, R::Edx, 23));  // AVX512_FP16
    CHECK(table.find(0xD, 0)->eax == 0);
    CHECK_FALSE(bit(table, 0x80000001, 0, R::Ecx, 6));   // SSE4A
    CHECK_FALSE(bit(table, 0x80000001, 0, R::Ecx, 16));  // FMA4
    CHECK(table.find(0x80000008)->ebx == 0x0791EF257);   // AMD speculation flags untouched

    CpuidTable empty;
    CHECK_FALSE(skiff::apply_template(empty, skiff::CpuTemplate::Baseline).ok());
}
