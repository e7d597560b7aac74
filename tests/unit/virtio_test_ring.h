// A driver's side of a split virtqueue laid out in fake guest memory, for
// unit tests of the device side (and of devices): write descriptors, publish
// chains, read what the device put in the used ring.
#pragma once

#include "devices/virtio/queue.h"
#include "vmm/guest_memory.h"

#include <cstdint>
#include <cstring>
#include <stdexcept>

namespace skiff::testing {

class DriverRing {
public:
    static constexpr GuestAddress kDescriptors{0x1000};
    static constexpr GuestAddress kAvailable{0x3000};
    static constexpr GuestAddress kUsed{0x4000};
    static constexpr GuestAddress kBuffers{0x10000};  // free for buffers from here

    DriverRing(const GuestMemory& memory, uint16_t size) : memory_(memory), size_(size) {}

    [[nodiscard]] virtio::QueueConfig config(uint16_t max_size = 256) const {
        virtio::QueueConfig config;
        config.max_size = max_size;
        config.size = size_;
        config.ready = true;
        config.descriptor_table = kDescriptors;
        config.available_ring = kAvailable;
        config.used_ring = kUsed;
        return config;
    }

    void set_descriptor(uint16_t index, uint64_t address, uint32_t length, uint16_t flags, uint16_t next = 0) const {
        write_descriptor(kDescriptors + 16 * uint64_t{index}, address, length, flags, next);
    }
    void write_descriptor(GuestAddress at, uint64_t address, uint32_t length, uint16_t flags, uint16_t next) const {
        struct {
            uint64_t address;
            uint32_t length;
            uint16_t flags;
            uint16_t next;
        } raw{address, length, flags, next};
        check(memory_.write_object(at, raw));
    }
    // Puts `head` in the next available slot and bumps the index.
    void publish(uint16_t head) {
        check(memory_.write_object(kAvailable + 4 + 2 * uint64_t(available_index_ % size_), head));
        ++available_index_;
        check(memory_.write_object(kAvailable + 2, available_index_));
    }
    void set_available_index(uint16_t index) {
        available_index_ = index;
        check(memory_.write_object(kAvailable + 2, index));
    }
    void set_available_flags(uint16_t flags) const { check(memory_.write_object(kAvailable, flags)); }
    void set_used_event(uint16_t index) const {
        check(memory_.write_object(kAvailable + 4 + 2 * uint64_t{size_}, index));
    }
    [[nodiscard]] uint16_t avail_event() const { return read<uint16_t>(kUsed + 4 + 8 * uint64_t{size_}); }
    [[nodiscard]] uint16_t used_flags() const { return read<uint16_t>(kUsed); }
    [[nodiscard]] uint16_t used_index() const { return read<uint16_t>(kUsed + 2); }
    struct UsedElement {
        uint32_t id;
        uint32_t length;
    };
    [[nodiscard]] UsedElement used(uint16_t position) const {
        return read<UsedElement>(kUsed + 4 + 8 * uint64_t(position % size_));
    }

    template <typename T>
    [[nodiscard]] T read(GuestAddress at) const {
        auto value = memory_.read_object<T>(at);
        check(value);
        return value.value();
    }

private:
    template <typename R>
    static void check(const R& result) {
        if (!result.ok()) {
            throw std::runtime_error(result.error().message);
        }
    }
    const GuestMemory& memory_;
    uint16_t size_;
    uint16_t available_index_ = 0;
};

}  // namespace skiff::testing
