#include "vmm/irq_routing.h"

namespace skiff {

namespace {

constexpr uint32_t kPicPins = 8;
constexpr uint32_t kLegacyIrqs = 16;  // the two PICs' pins
constexpr uint32_t kIoapicPins = 24;

kvm_irq_routing_entry irqchip_route(uint32_t gsi, uint32_t chip, uint32_t pin) {
    kvm_irq_routing_entry entry{};
    entry.gsi = gsi;
    entry.type = KVM_IRQ_ROUTING_IRQCHIP;
    entry.u.irqchip.irqchip = chip;
    entry.u.irqchip.pin = pin;
    return entry;
}

}  // namespace

std::vector<kvm_irq_routing_entry> KvmIrqRouting::default_routes() {
    // The same entries, in the same order, as KVM's own default table.
    std::vector<kvm_irq_routing_entry> entries;
    for (uint32_t gsi = 0; gsi < kIoapicPins; ++gsi) {
        entries.push_back(irqchip_route(gsi, KVM_IRQCHIP_IOAPIC, gsi));
        if (gsi < kLegacyIrqs) {
            entries.push_back(irqchip_route(gsi, gsi < kPicPins ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
                                            gsi % kPicPins));
        }
    }
    return entries;
}

Result<uint32_t> KvmIrqRouting::allocate_gsi() {
    std::lock_guard lock(mutex_);
    for (uint32_t gsi = kFirstMsiGsi; gsi < kGsiLimit; ++gsi) {
        if (!allocated_.contains(gsi)) {
            allocated_.insert(gsi);
            return gsi;
        }
    }
    return Error::format("no free GSI left for an MSI vector (KVM allows {})", kGsiLimit);
}

void KvmIrqRouting::release_gsi(uint32_t gsi) {
    std::lock_guard lock(mutex_);
    allocated_.erase(gsi);
    routes_.erase(gsi);
}

void KvmIrqRouting::set_msi_route(uint32_t gsi, uint64_t address, uint32_t data) {
    std::lock_guard lock(mutex_);
    routes_[gsi] = MsiRoute{address, data};
}

void KvmIrqRouting::remove_route(uint32_t gsi) {
    std::lock_guard lock(mutex_);
    routes_.erase(gsi);
}

std::vector<kvm_irq_routing_entry> KvmIrqRouting::table() const {
    std::lock_guard lock(mutex_);
    return table_locked();
}

std::vector<kvm_irq_routing_entry> KvmIrqRouting::table_locked() const {
    std::vector<kvm_irq_routing_entry> entries = default_routes();
    for (const auto& [gsi, route] : routes_) {
        kvm_irq_routing_entry entry{};
        entry.gsi = gsi;
        entry.type = KVM_IRQ_ROUTING_MSI;
        entry.u.msi.address_lo = static_cast<uint32_t>(route.address);
        entry.u.msi.address_hi = static_cast<uint32_t>(route.address >> 32);
        entry.u.msi.data = route.data;
        entries.push_back(entry);
    }
    return entries;
}

Result<void> KvmIrqRouting::commit() {
    // Held across the ioctl so that concurrent commits reach KVM in the
    // order of the changes they carry.
    std::lock_guard lock(mutex_);
    return vm_.set_gsi_routing(table_locked());
}

Result<void> KvmIrqRouting::register_irqfd(int event_fd, uint32_t gsi) { return vm_.register_irqfd(event_fd, gsi); }

Result<void> KvmIrqRouting::unregister_irqfd(int event_fd, uint32_t gsi) {
    return vm_.unregister_irqfd(event_fd, gsi);
}

}  // namespace skiff
