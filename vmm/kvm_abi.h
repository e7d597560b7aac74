// The variable-length KVM structures, declared the way C sees them.
//
// <linux/kvm.h> declares their trailing arrays with __DECLARE_FLEX_ARRAY,
// which wraps the array in a struct holding an empty struct. In C an empty
// struct has size 0; in C++ it has size 1, so under C++ `kvm_cpuid2` is 12
// bytes with its entries at offset 12 (the kernel: 8 and 8) and `kvm_msrs`
// puts its entries at 16 (the kernel: 8); `kvm_irq_routing` likewise. Both the layout and the ioctl
// numbers (which encode sizeof) come out wrong, and KVM answers EINVAL. skiff
// therefore uses these headers, laid out as the kernel's C ABI, and ioctl
// numbers computed from them.
#pragma once

#include <linux/kvm.h>
#include <sys/ioctl.h>

#include <cstddef>
#include <cstdint>

namespace skiff::kvm_abi {

// Followed by `nent` kvm_cpuid_entry2.
struct Cpuid2Header {
    uint32_t nent;
    uint32_t padding;
};
static_assert(sizeof(Cpuid2Header) == 8);

// Followed by `nmsrs` kvm_msr_entry.
struct MsrsHeader {
    uint32_t nmsrs;
    uint32_t pad;
};
static_assert(sizeof(MsrsHeader) == 8);
static_assert(alignof(kvm_msr_entry) <= 8 && sizeof(MsrsHeader) % alignof(kvm_msr_entry) == 0);

// Followed by `nr` kvm_irq_routing_entry (KVM_SET_GSI_ROUTING).
struct IrqRoutingHeader {
    uint32_t nr;
    uint32_t flags;
};
static_assert(sizeof(IrqRoutingHeader) == 8);
static_assert(alignof(kvm_irq_routing_entry) <= 8 && sizeof(IrqRoutingHeader) % alignof(kvm_irq_routing_entry) == 0);

inline constexpr unsigned long kGetSupportedCpuid = _IOWR(KVMIO, 0x05, Cpuid2Header);
inline constexpr unsigned long kSetCpuid2 = _IOW(KVMIO, 0x90, Cpuid2Header);
inline constexpr unsigned long kGetMsrs = _IOWR(KVMIO, 0x88, MsrsHeader);
inline constexpr unsigned long kSetMsrs = _IOW(KVMIO, 0x89, MsrsHeader);
inline constexpr unsigned long kSetGsiRouting = _IOW(KVMIO, 0x6a, IrqRoutingHeader);

}  // namespace skiff::kvm_abi
