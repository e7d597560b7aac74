// Where a device asks that host memory appear in the guest's physical
// address space without vCPU exits: a KVM memory slot. VFIO maps the
// mmap'able parts of a function's BARs so, and moves them when the guest
// moves the BAR. Devices never talk to KVM themselves: the VMM passes
// KvmMemorySlots (vmm/kvm_memory_slots.h), tests a recorder.
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstddef>
#include <cstdint>

namespace skiff {

class MemorySlots {
public:
    virtual ~MemorySlots() = default;
    // Makes [address, address + size) of the guest read and write `host`
    // (both page-aligned, size a multiple of the page size). Returns the slot.
    [[nodiscard]] virtual Result<uint32_t> map(GuestAddress address, uint64_t size, std::byte* host) = 0;
    // Removes a slot map() returned; accesses there exit to skiff again.
    virtual void unmap(uint32_t slot) = 0;
};

}  // namespace skiff
