#include "devices/virtio/queue.h"

#include "devices/virtio/virtio.h"

#include <fmt/format.h>

#include <atomic>
#include <bit>
#include <cstring>

namespace skiff::virtio {

namespace {

// A descriptor as the driver lays it out (VIRTIO 1.2, 2.7.5), little endian.
struct RawDescriptor {
    uint64_t address;
    uint32_t length;
    uint16_t flags;
    uint16_t next;
};
static_assert(sizeof(RawDescriptor) == ring::kDescriptorSize);

RawDescriptor load_descriptor(const std::byte* table, uint32_t index) {
    RawDescriptor descriptor;
    std::memcpy(&descriptor, table + uint64_t{index} * ring::kDescriptorSize, sizeof(descriptor));
    return descriptor;
}

uint16_t load16(const std::byte* at, int order) {
    return __atomic_load_n(reinterpret_cast<const uint16_t*>(at), order);
}

void store16(std::byte* at, uint16_t value, int order) {
    __atomic_store_n(reinterpret_cast<uint16_t*>(at), value, order);
}

Result<std::byte*> ring_view(const GuestMemory& memory, GuestAddress address, uint64_t bytes, uint64_t alignment,
                             const char* what) {
    if (address.value() % alignment != 0) {
        return Error{fmt::format("{} at {:#x} is not {}-byte aligned", what, address.value(), alignment)};
    }
    auto slice = memory.slice(address, bytes);
    if (!slice.ok()) {
        return Error{fmt::format("{} [{:#x}, +{:#x}) is outside guest memory", what, address.value(), bytes)};
    }
    return slice.value().data();
}

}  // namespace

Result<Queue> Queue::create(const QueueConfig& config, const GuestMemory& memory, bool event_index, bool indirect) {
    uint16_t size = config.size;
    if (size == 0 || !std::has_single_bit(size) || size > config.max_size || size > kMaxQueueSize) {
        return Error{fmt::format("queue size {} is not a power of two between 1 and {}", size, config.max_size)};
    }
    Queue queue;
    queue.config_ = config;
    queue.size_ = size;
    queue.event_index_ = event_index;
    queue.indirect_ = indirect;
    queue.descriptors_ = TRY(ring_view(memory, config.descriptor_table, ring::descriptor_table_bytes(size), 16,
                                       "descriptor table"));
    queue.available_ = TRY(ring_view(memory, config.available_ring, ring::available_ring_bytes(size), 2,
                                     "available ring"));
    queue.used_ = TRY(ring_view(memory, config.used_ring, ring::used_ring_bytes(size), 4, "used ring"));
    return queue;
}

uint16_t Queue::available_index() const { return load16(available_ + 2, __ATOMIC_ACQUIRE); }

Result<bool> Queue::has_available(const GuestMemory& /*memory*/) const {
    uint16_t published = static_cast<uint16_t>(available_index() - next_available_);
    if (published > size_) {
        return Error{fmt::format("available index ran {} entries ahead of the device (queue size {})", published,
                                 size_)};
    }
    return published != 0;
}

Result<bool> Queue::pop(const GuestMemory& memory, DescriptorChain& chain) {
    if (!TRY(has_available(memory))) {
        return false;
    }
    uint16_t slot = static_cast<uint16_t>(next_available_ & (size_ - 1));
    uint16_t head = load16(available_ + 4 + 2 * uint64_t{slot}, __ATOMIC_RELAXED);
    if (head >= size_) {
        return Error{fmt::format("available ring entry {} names descriptor {} of {}", slot, head, size_)};
    }
    TRY(walk(memory, head, chain));
    ++next_available_;
    return true;
}

void Queue::undo_pop(uint16_t count) { next_available_ = static_cast<uint16_t>(next_available_ - count); }

Result<void> Queue::walk(const GuestMemory& memory, uint16_t head, DescriptorChain& chain) const {
    chain.clear(head);
    uint32_t index = head;
    for (uint32_t visited = 0;; ++visited) {
        if (visited == size_) {
            return Error{fmt::format("descriptor chain from {} is longer than the queue ({}): a loop?", head, size_)};
        }
        RawDescriptor descriptor = load_descriptor(descriptors_, index);
        if (descriptor.flags & ring::kDescriptorIndirect) {
            if (!indirect_) {
                return Error{fmt::format("descriptor {} is indirect, but RING_INDIRECT_DESC was not negotiated", index)};
            }
            if (descriptor.flags & ring::kDescriptorNext) {
                return Error{fmt::format("indirect descriptor {} also has NEXT set", index)};
            }
            return walk_indirect(memory, GuestAddress(descriptor.address), descriptor.length, chain);
        }
        TRY(append(memory, descriptor.address, descriptor.length, descriptor.flags & ring::kDescriptorWrite, chain));
        if (!(descriptor.flags & ring::kDescriptorNext)) {
            return {};
        }
        index = descriptor.next;
        if (index >= size_) {
            return Error{fmt::format("descriptor chain from {} links to descriptor {} of {}", head, index, size_)};
        }
    }
}

Result<void> Queue::walk_indirect(const GuestMemory& memory, GuestAddress table_address, uint32_t length,
                                  DescriptorChain& chain) const {
    if (length == 0 || length % ring::kDescriptorSize != 0 ||
        length / ring::kDescriptorSize > kMaxIndirectDescriptors) {
        return Error{fmt::format("indirect table of {} bytes (need a multiple of 16, at most {} entries)", length,
                                 kMaxIndirectDescriptors)};
    }
    auto slice = memory.slice(table_address, length);
    if (!slice.ok()) {
        return Error{fmt::format("indirect table [{:#x}, +{:#x}) is outside guest memory", table_address.value(),
                                 length)};
    }
    const std::byte* table = slice.value().data();
    uint32_t entries = length / static_cast<uint32_t>(ring::kDescriptorSize);
    uint32_t index = 0;
    for (uint32_t visited = 0;; ++visited) {
        if (visited == entries) {
            return Error{fmt::format("indirect chain is longer than its table ({} entries): a loop?", entries)};
        }
        RawDescriptor descriptor = load_descriptor(table, index);
        if (descriptor.flags & ring::kDescriptorIndirect) {
            return Error{"indirect table holds an indirect descriptor"};
        }
        TRY(append(memory, descriptor.address, descriptor.length, descriptor.flags & ring::kDescriptorWrite, chain));
        if (!(descriptor.flags & ring::kDescriptorNext)) {
            return {};
        }
        index = descriptor.next;
        if (index >= entries) {
            return Error{fmt::format("indirect descriptor links to entry {} of {}", index, entries)};
        }
    }
}

Result<void> Queue::append(const GuestMemory& memory, uint64_t address, uint32_t length, bool writable,
                           DescriptorChain& chain) const {
    if (!memory.contains(GuestAddress(address), length)) {
        return Error{fmt::format("descriptor buffer [{:#x}, +{:#x}) is outside guest memory", address, length)};
    }
    if (writable) {
        chain.writable_bytes_ += length;
    } else {
        if (chain.descriptors_.size() != chain.readable_count_) {
            return Error{"device-readable descriptor after a device-writable one"};
        }
        ++chain.readable_count_;
        chain.readable_bytes_ += length;
    }
    chain.descriptors_.push_back(Descriptor{GuestAddress(address), length});
    return {};
}

void Queue::add_used(uint16_t head, uint32_t length) {
    uint16_t slot = static_cast<uint16_t>(next_used_ & (size_ - 1));
    std::byte* element = used_ + 4 + 8 * uint64_t{slot};
    uint32_t id = head;
    std::memcpy(element, &id, sizeof(id));
    std::memcpy(element + 4, &length, sizeof(length));
    ++next_used_;
    // The element must be visible before the index that publishes it.
    store16(used_ + 2, next_used_, __ATOMIC_RELEASE);
}

bool Queue::needs_notification() {
    // The used index store must be ordered before reading the driver's
    // suppression state, or both sides may miss each other.
    std::atomic_thread_fence(std::memory_order_seq_cst);
    uint16_t previous = signalled_used_;
    bool first = !signalled_used_valid_;
    signalled_used_ = next_used_;
    signalled_used_valid_ = true;
    if (!first && previous == next_used_) {
        return false;
    }
    if (event_index_) {
        uint16_t used_event = load16(available_ + 4 + 2 * uint64_t{size_}, __ATOMIC_RELAXED);
        if (first) {
            return true;
        }
        // vring_need_event(): did next_used pass used_event since `previous`?
        return static_cast<uint16_t>(next_used_ - used_event - 1) < static_cast<uint16_t>(next_used_ - previous);
    }
    return (load16(available_, __ATOMIC_RELAXED) & ring::kAvailableNoInterrupt) == 0;
}

bool Queue::enable_notification() {
    if (event_index_) {
        store16(used_ + 4 + 8 * uint64_t{size_}, next_available_, __ATOMIC_RELAXED);
    } else {
        store16(used_, 0, __ATOMIC_RELAXED);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return available_index() != next_available_;
}

bool Queue::enable_notification_beyond(uint16_t seen) {
    if (event_index_) {
        // The driver notifies when its index moves past avail_event: past
        // `seen`, not past the chains handed back.
        store16(used_ + 4 + 8 * uint64_t{size_}, seen, __ATOMIC_RELAXED);
    } else {
        store16(used_, 0, __ATOMIC_RELAXED);
    }
    std::atomic_thread_fence(std::memory_order_seq_cst);
    return available_index() != seen;
}

void Queue::disable_notification() {
    if (!event_index_) {
        store16(used_, ring::kUsedNoNotify, __ATOMIC_RELAXED);
    }
}

}  // namespace skiff::virtio
