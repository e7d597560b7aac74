#include "vmm/kvm_memory_slots.h"

#include <spdlog/spdlog.h>

namespace skiff {

Result<uint32_t> KvmMemorySlots::map(GuestAddress address, uint64_t size, std::byte* host) {
    std::lock_guard lock(mutex_);
    uint32_t slot = first_slot_;
    while (used_.contains(slot)) {
        ++slot;
    }
    if (slot >= kSlotLimit) {
        return Error::format("no KVM memory slot left for {:#x}+{:#x}", address.value(), size);
    }
    TRY(vm_.set_user_memory_region(slot, GuestRegion{address, size, host}));
    used_.insert(slot);
    return slot;
}

void KvmMemorySlots::unmap(uint32_t slot) {
    std::lock_guard lock(mutex_);
    if (used_.erase(slot) == 0) {
        return;
    }
    // A slot of size 0 is deleted.
    auto status = vm_.set_user_memory_region(slot, GuestRegion{GuestAddress(0), 0, nullptr});
    if (!status.ok()) {
        spdlog::warn("removing KVM memory slot {}: {}", slot, status.error().message);
    }
}

}  // namespace skiff
