// A VIRTIO 1.x split virtqueue, device side.
//
// The queue holds the driver's ring addresses, validated once at creation
// against guest memory, and its own indices; every operation takes guest
// memory as a parameter. Everything a driver writes into the rings is read
// once into a local copy and checked before use: descriptor addresses and
// lengths against guest memory (overflow included), chain length (which
// also ends loops), device-writable descriptors after readable ones only,
// indirect tables (size, nesting), and the available index (it may not run
// more than the queue size ahead of the device). A failure is an Error that
// names the problem; the device then marks itself DEVICE_NEEDS_RESET.
#pragma once

#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstdint>
#include <span>
#include <vector>

namespace skiff::virtio {

// What a driver programs for one queue through either transport.
struct QueueConfig {
    uint16_t max_size = 0;  // offered by the device
    uint16_t size = 0;      // chosen by the driver
    bool ready = false;
    GuestAddress descriptor_table;
    GuestAddress available_ring;
    GuestAddress used_ring;
};

// One buffer of a chain, checked to lie inside guest memory.
struct Descriptor {
    GuestAddress address;
    uint32_t length = 0;
};

// The buffers of one available chain: device-readable ones, then
// device-writable ones (the order the specification requires).
class DescriptorChain {
public:
    [[nodiscard]] uint16_t head() const { return head_; }
    [[nodiscard]] std::span<const Descriptor> readable() const {
        return {descriptors_.data(), readable_count_};
    }
    [[nodiscard]] std::span<const Descriptor> writable() const {
        return std::span<const Descriptor>(descriptors_).subspan(readable_count_);
    }
    [[nodiscard]] uint64_t readable_bytes() const { return readable_bytes_; }
    [[nodiscard]] uint64_t writable_bytes() const { return writable_bytes_; }

private:
    friend class Queue;
    void clear(uint16_t head) {
        head_ = head;
        descriptors_.clear();
        readable_count_ = 0;
        readable_bytes_ = 0;
        writable_bytes_ = 0;
    }
    uint16_t head_ = 0;
    std::vector<Descriptor> descriptors_;  // capacity kept across pops
    size_t readable_count_ = 0;
    uint64_t readable_bytes_ = 0;
    uint64_t writable_bytes_ = 0;
};

// Split-ring layout sizes (VIRTIO 1.2, 2.7), for a queue of `size` entries.
namespace ring {
inline constexpr uint64_t kDescriptorSize = 16;
inline constexpr uint16_t kDescriptorNext = 1;
inline constexpr uint16_t kDescriptorWrite = 2;
inline constexpr uint16_t kDescriptorIndirect = 4;
inline constexpr uint16_t kAvailableNoInterrupt = 1;
inline constexpr uint16_t kUsedNoNotify = 1;
constexpr uint64_t descriptor_table_bytes(uint16_t size) { return kDescriptorSize * size; }
constexpr uint64_t available_ring_bytes(uint16_t size) { return 6 + 2 * uint64_t{size}; }
constexpr uint64_t used_ring_bytes(uint16_t size) { return 6 + 8 * uint64_t{size}; }
}  // namespace ring

// Most descriptors an indirect table may hold.
inline constexpr uint32_t kMaxIndirectDescriptors = 1024;

class Queue final {
public:
    // Checks `config` (size a power of two no larger than max_size, ring
    // alignment, every ring inside guest memory). `event_index` is whether
    // VIRTIO_F_RING_EVENT_IDX was negotiated, `indirect` whether
    // VIRTIO_F_RING_INDIRECT_DESC was.
    static Result<Queue> create(const QueueConfig& config, const GuestMemory& memory, bool event_index,
                                bool indirect);

    [[nodiscard]] uint16_t size() const { return size_; }
    [[nodiscard]] const QueueConfig& config() const { return config_; }
    // The index of the next available entry to pop, and of the next used
    // entry to fill (vhost's VHOST_SET_VRING_BASE wants the former).
    [[nodiscard]] uint16_t next_available() const { return next_available_; }
    [[nodiscard]] uint16_t next_used() const { return next_used_; }

    // Pops the next available chain into `chain`. Returns false when the
    // driver has published nothing new; an Error when what it published is
    // invalid (the queue is then unusable until reset).
    [[nodiscard]] Result<bool> pop(const GuestMemory& memory, DescriptorChain& chain);
    // Whether the driver has published chains not yet popped.
    [[nodiscard]] Result<bool> has_available(const GuestMemory& memory) const;
    // Gives back the last `count` popped chains, which were not used; they
    // are popped again, in the same order, next time.
    void undo_pop(uint16_t count);
    // Publishes a used entry: chain `head`, `length` bytes written into it.
    void add_used(uint16_t head, uint32_t length);
    // Whether the driver asked to be interrupted for the used entries added
    // since the last call (used_event with EVENT_IDX, else the
    // NO_INTERRUPT flag). The caller signals the interrupt when true.
    [[nodiscard]] bool needs_notification();
    // Asks the driver to notify when it publishes more chains. Returns
    // true if it already published more meanwhile: the caller must process
    // them (a notification for them may never come).
    [[nodiscard]] bool enable_notification();
    // Like enable_notification(), for a device that has looked at every
    // chain up to available index `seen` and found them not enough (it gave
    // them back with undo_pop()): asks to be notified only for chains beyond
    // `seen`, and returns true if the driver already published some.
    [[nodiscard]] bool enable_notification_beyond(uint16_t seen);
    // The driver's available index as of now (for enable_notification_beyond).
    [[nodiscard]] uint16_t published() const { return available_index(); }
    // Asks the driver not to notify (best effort: without EVENT_IDX).
    void disable_notification();

private:
    Queue() = default;
    [[nodiscard]] uint16_t available_index() const;
    [[nodiscard]] Result<void> walk(const GuestMemory& memory, uint16_t head, DescriptorChain& chain) const;
    [[nodiscard]] Result<void> walk_indirect(const GuestMemory& memory, GuestAddress table, uint32_t length,
                                             DescriptorChain& chain) const;
    [[nodiscard]] Result<void> append(const GuestMemory& memory, uint64_t address, uint32_t length, bool writable,
                                      DescriptorChain& chain) const;

    QueueConfig config_;
    uint16_t size_ = 0;
    bool event_index_ = false;
    bool indirect_ = false;
    // Host views of the rings, checked once in create(); guest memory does
    // not move while the VM exists.
    std::byte* descriptors_ = nullptr;
    std::byte* available_ = nullptr;
    std::byte* used_ = nullptr;
    uint16_t next_available_ = 0;
    uint16_t next_used_ = 0;
    uint16_t signalled_used_ = 0;  // used index at the last needs_notification()
    bool signalled_used_valid_ = false;
};

}  // namespace skiff::virtio
