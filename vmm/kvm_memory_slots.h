// MemorySlots on KVM: KVM_SET_USER_MEMORY_REGION in slots above the ones
// guest RAM takes (VmFd::map_guest_memory uses 0..n-1).
#pragma once

#include "devices/memory_slots.h"
#include "vmm/kvm.h"

#include <mutex>
#include <set>

namespace skiff {

class KvmMemorySlots final : public MemorySlots {
public:
    // `vm` must outlive this object; slots from `first_slot` up are free.
    KvmMemorySlots(VmFd& vm, uint32_t first_slot) : vm_(vm), first_slot_(first_slot) {}

    [[nodiscard]] Result<uint32_t> map(GuestAddress address, uint64_t size, std::byte* host) override;
    void unmap(uint32_t slot) override;

private:
    // KVM_CAP_NR_MEMSLOTS is at least this on every x86 kernel in use.
    static constexpr uint32_t kSlotLimit = 509;

    VmFd& vm_;
    uint32_t first_slot_;
    std::mutex mutex_;
    std::set<uint32_t> used_;
};

}  // namespace skiff
