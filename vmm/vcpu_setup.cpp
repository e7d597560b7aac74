#include "vmm/vcpu_setup.h"

#include <cstring>

namespace skiff {

namespace {

constexpr uint32_t kMsrIa32Tsc = 0x10;
constexpr uint32_t kMsrSysenterCs = 0x174;
constexpr uint32_t kMsrSysenterEsp = 0x175;
constexpr uint32_t kMsrSysenterEip = 0x176;
constexpr uint32_t kMsrMiscEnable = 0x1a0;
constexpr uint32_t kMsrMtrrDefType = 0x2ff;
constexpr uint32_t kMsrStar = 0xc0000081;
constexpr uint32_t kMsrLstar = 0xc0000082;
constexpr uint32_t kMsrCstar = 0xc0000083;
constexpr uint32_t kMsrSyscallMask = 0xc0000084;
constexpr uint32_t kMsrKernelGsBase = 0xc0000102;

constexpr uint64_t kMiscEnableFastStrings = 1;
constexpr uint64_t kMtrrEnableWriteBack = (1u << 11) | 6;

constexpr size_t kApicLvtLint0 = 0x350;
constexpr size_t kApicLvtLint1 = 0x360;
constexpr uint32_t kDeliveryModeMask = 0x700;
constexpr uint32_t kDeliveryModeExtInt = 0x700;
constexpr uint32_t kDeliveryModeNmi = 0x400;

uint32_t read_apic_register(const kvm_lapic_state& state, size_t offset) {
    uint32_t value = 0;
    std::memcpy(&value, state.regs + offset, sizeof(value));
    return value;
}

void write_apic_register(kvm_lapic_state& state, size_t offset, uint32_t value) {
    std::memcpy(state.regs + offset, &value, sizeof(value));
}

}  // namespace

Result<void> setup_vcpu_msrs(const VcpuFd& vcpu) {
    std::vector<kvm_msr_entry> entries;
    auto add = [&entries](uint32_t index, uint64_t value) {
        kvm_msr_entry entry{};
        entry.index = index;
        entry.data = value;
        entries.push_back(entry);
    };
    add(kMsrSysenterCs, 0);
    add(kMsrSysenterEsp, 0);
    add(kMsrSysenterEip, 0);
    add(kMsrStar, 0);
    add(kMsrCstar, 0);
    add(kMsrKernelGsBase, 0);
    add(kMsrSyscallMask, 0);
    add(kMsrLstar, 0);
    add(kMsrIa32Tsc, 0);
    add(kMsrMiscEnable, kMiscEnableFastStrings);
    add(kMsrMtrrDefType, kMtrrEnableWriteBack);
    return vcpu.set_msrs(entries);
}

Result<void> setup_vcpu_fpu(const VcpuFd& vcpu) {
    kvm_fpu fpu{};
    fpu.fcw = 0x37f;     // all x87 exceptions masked, 64-bit precision
    fpu.mxcsr = 0x1f80;  // all SSE exceptions masked
    return vcpu.set_fpu(fpu);
}

Result<void> setup_vcpu_lapic(const VcpuFd& vcpu) {
    kvm_lapic_state state = TRY(vcpu.lapic());
    uint32_t lint0 = read_apic_register(state, kApicLvtLint0);
    write_apic_register(state, kApicLvtLint0, (lint0 & ~kDeliveryModeMask) | kDeliveryModeExtInt);
    uint32_t lint1 = read_apic_register(state, kApicLvtLint1);
    write_apic_register(state, kApicLvtLint1, (lint1 & ~kDeliveryModeMask) | kDeliveryModeNmi);
    return vcpu.set_lapic(state);
}

}  // namespace skiff
