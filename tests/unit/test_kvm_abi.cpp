#include "vmm/kvm_abi.h"

#include <catch2/catch.hpp>

// The ioctl numbers the kernel (built as C) expects, spelled out: a C++
// build of <linux/kvm.h> gets the cpuid2 and irq routing ones wrong (see kvm_abi.h).
TEST_CASE("KVM variable-length ioctls use the kernel's C layout", "[kvm]") {
    CHECK(skiff::kvm_abi::kGetSupportedCpuid == 0xc008ae05ul);
    CHECK(skiff::kvm_abi::kSetCpuid2 == 0x4008ae90ul);
    CHECK(skiff::kvm_abi::kGetMsrs == 0xc008ae88ul);
    CHECK(skiff::kvm_abi::kSetMsrs == 0x4008ae89ul);
    CHECK(skiff::kvm_abi::kSetGsiRouting == 0x4008ae6aul);
    CHECK(sizeof(kvm_irq_routing_entry) == 48);
    CHECK(sizeof(kvm_cpuid_entry2) == 40);
    CHECK(sizeof(kvm_msr_entry) == 16);
}
