// KvmIrqRouting against the real KVM: an MSI route delivers through its
// irqfd, and the legacy IRQ lines still reach the IOAPIC after skiff has
// replaced KVM's routing table. Needs /dev/kvm (tests/l1vm/run.sh provides
// one); skipped with a warning elsewhere.
#include "vmm/irq_routing.h"
#include "vmm/kvm.h"

#include <catch2/catch.hpp>

#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <cstring>

using namespace skiff;

namespace {

constexpr size_t kSpuriousVectorRegister = 0xf0;
constexpr size_t kInterruptRequestRegister = 0x200;

uint32_t lapic_register(const kvm_lapic_state& state, size_t offset) {
    uint32_t value = 0;
    std::memcpy(&value, state.regs + offset, sizeof(value));
    return value;
}

bool requested(const VcpuFd& vcpu, uint8_t vector) {
    auto state = vcpu.lapic();
    REQUIRE(state.ok());
    uint32_t irr = lapic_register(*state, kInterruptRequestRegister + 0x10 * (vector / 32));
    return (irr >> (vector % 32) & 1) != 0;
}

// A vCPU whose local APIC accepts interrupts (software-enabled), and the
// IOAPIC's pin 4 unmasked, edge-triggered, vector 0x50 to APIC 0.
void prepare(const VmFd& vm, const VcpuFd& vcpu) {
    auto state = vcpu.lapic();
    REQUIRE(state.ok());
    uint32_t spurious = 0x1ff;
    std::memcpy(state->regs + kSpuriousVectorRegister, &spurious, sizeof(spurious));
    REQUIRE(vcpu.set_lapic(*state).ok());

    kvm_irqchip chip{};
    chip.chip_id = KVM_IRQCHIP_IOAPIC;
    REQUIRE(::ioctl(vm.fd(), KVM_GET_IRQCHIP, &chip) == 0);
    chip.chip.ioapic.redirtbl[4].bits = 0;
    chip.chip.ioapic.redirtbl[4].fields.vector = 0x50;
    REQUIRE(::ioctl(vm.fd(), KVM_SET_IRQCHIP, &chip) == 0);
}

}  // namespace

TEST_CASE("KVM IRQ routing: MSI through irqfd, legacy lines kept", "[pci][needs-kvm]") {
    auto kvm = Kvm::open();
    if (!kvm.ok()) {
        WARN("skipped: " << kvm.error().message);
        return;
    }
    auto vm = VmFd::create(*kvm);
    REQUIRE(vm.ok());
    auto vcpu = VcpuFd::create(*kvm, *vm, 0);
    REQUIRE(vcpu.ok());
    prepare(*vm, *vcpu);

    KvmIrqRouting routing(*vm);
    auto gsi = routing.allocate_gsi();
    REQUIRE(gsi.ok());
    CHECK(*gsi == KvmIrqRouting::kFirstMsiGsi);
    auto second = routing.allocate_gsi();
    REQUIRE(second.ok());
    CHECK(*second == *gsi + 1);
    routing.release_gsi(*second);

    int event_fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    REQUIRE(event_fd >= 0);
    REQUIRE(routing.register_irqfd(event_fd, *gsi).ok());
    // Fixed delivery, physical destination APIC 0, vector 0x41.
    routing.set_msi_route(*gsi, 0xfee00000, 0x41);
    auto committed = routing.commit();
    INFO((committed.ok() ? std::string() : committed.error().message));
    REQUIRE(committed.ok());
    CHECK(routing.table().size() == KvmIrqRouting::default_routes().size() + 1);

    CHECK_FALSE(requested(*vcpu, 0x41));
    uint64_t one = 1;
    REQUIRE(::write(event_fd, &one, sizeof(one)) == sizeof(one));
    CHECK(requested(*vcpu, 0x41));

    // The legacy line through the IOAPIC still works with skiff's table.
    CHECK_FALSE(requested(*vcpu, 0x50));
    REQUIRE(vm->set_irq_line(4, true).ok());
    REQUIRE(vm->set_irq_line(4, false).ok());
    CHECK(requested(*vcpu, 0x50));

    REQUIRE(routing.unregister_irqfd(event_fd, *gsi).ok());
    ::close(event_fd);
}

TEST_CASE("KVM IRQ routing: a table without the defaults loses the legacy lines", "[pci][needs-kvm]") {
    // The control experiment for the test above: it shows that replacing
    // the table really drops KVM's defaults, so keeping them matters.
    auto kvm = Kvm::open();
    if (!kvm.ok()) {
        WARN("skipped: " << kvm.error().message);
        return;
    }
    auto vm = VmFd::create(*kvm);
    REQUIRE(vm.ok());
    auto vcpu = VcpuFd::create(*kvm, *vm, 0);
    REQUIRE(vcpu.ok());
    prepare(*vm, *vcpu);
    kvm_irq_routing_entry msi{};
    msi.gsi = 24;
    msi.type = KVM_IRQ_ROUTING_MSI;
    msi.u.msi.address_lo = 0xfee00000;
    msi.u.msi.data = 0x41;
    REQUIRE(vm->set_gsi_routing(std::span(&msi, 1)).ok());
    (void)vm->set_irq_line(4, true);
    (void)vm->set_irq_line(4, false);
    CHECK_FALSE(requested(*vcpu, 0x50));
}
