// fuzz_descriptor_chain: a driver's split ring laid out in guest memory from
// the input; the device side (devices/virtio/queue.h) pops every chain the
// driver published. Whatever the bytes, the queue must hand out only
// descriptors inside guest memory, readable before writable, with the byte
// counts they add up to, or return an Error - and never touch host memory
// outside the rings it validated (the guest memory sits between guard
// pages; ASan and UBSan watch the rest).
//
// Input:
//   byte 0     queue size: 1 << (byte % 11), so 1 to 1024
//   byte 1     bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bits 2-3 which ring ends
//              at the top of guest memory (descriptor table, available ring,
//              used ring), bit 4 the device writes into writable buffers
//              (which may overlap the rings: a hostile driver can do that)
//   bytes 2-3  an available index the driver publishes once the device has
//              drained the ring
//   then       the descriptor table (16 * size bytes), the available ring
//              (6 + 2 * size bytes), then the bottom of guest memory (buffers,
//              indirect tables). Bytes the input lacks are zero.
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "tests/fuzz/fuzz_memory.h"
#include "tests/fuzz/fuzz_support.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace skiff;
using namespace skiff::virtio;

namespace {

constexpr GuestAddress kMemoryStart(0x10000);
constexpr uint64_t kMemorySize = 0x10000;
constexpr uint64_t kRingArea = 0x8000;  // rings from here; data below

const GuestMemory& memory() {
    static const GuestMemory instance = fuzz::make_guarded_memory(kMemoryStart, kMemorySize);
    return instance;
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }
uint64_t align_down(uint64_t value, uint64_t alignment) { return value & ~(alignment - 1); }

struct Layout {
    GuestAddress descriptors;
    GuestAddress available;
    GuestAddress used;
};

// Two rings one after another from kRingArea, the third ending at the top
// of guest memory, so that reading past it faults.
Layout lay_out(uint16_t size, unsigned last) {
    const uint64_t bytes[3] = {ring::descriptor_table_bytes(size), ring::available_ring_bytes(size),
                               ring::used_ring_bytes(size)};
    const uint64_t alignment[3] = {16, 2, 4};
    uint64_t address[3] = {};
    uint64_t next = kMemoryStart.value() + kRingArea;
    for (unsigned index = 0; index < 3; ++index) {
        if (index == last) {
            address[index] = align_down(kMemoryStart.value() + kMemorySize - bytes[index], alignment[index]);
        } else {
            address[index] = align_up(next, alignment[index]);
            next = address[index] + bytes[index];
        }
    }
    return {GuestAddress(address[0]), GuestAddress(address[1]), GuestAddress(address[2])};
}

// Copies as much of the input as `length` allows to `address`.
void place(const uint8_t*& data, size_t& remaining, GuestAddress address, uint64_t length) {
    const size_t count = std::min<uint64_t>(remaining, length);
    FUZZ_CHECK(memory().write(address, std::as_bytes(std::span(data, count))).ok());
    data += count;
    remaining -= count;
}

void check_chain(const DescriptorChain& chain, uint16_t size) {
    FUZZ_CHECK(chain.head() < size);
    uint64_t readable = 0;
    for (const Descriptor& descriptor : chain.readable()) {
        FUZZ_CHECK(memory().contains(descriptor.address, descriptor.length));
        readable += descriptor.length;
    }
    uint64_t writable = 0;
    for (const Descriptor& descriptor : chain.writable()) {
        FUZZ_CHECK(memory().contains(descriptor.address, descriptor.length));
        writable += descriptor.length;
    }
    FUZZ_CHECK(readable == chain.readable_bytes());
    FUZZ_CHECK(writable == chain.writable_bytes());
    FUZZ_CHECK(chain.readable().size() + chain.writable().size() <= size_t{size} + kMaxIndirectDescriptors);
}

bool same_chain(const DescriptorChain& a, const DescriptorChain& b) {
    auto same = [](std::span<const Descriptor> x, std::span<const Descriptor> y) {
        return std::equal(x.begin(), x.end(), y.begin(), y.end(), [](const Descriptor& p, const Descriptor& q) {
            return p.address == q.address && p.length == q.length;
        });
    };
    return a.head() == b.head() && same(a.readable(), b.readable()) && same(a.writable(), b.writable());
}

// Pops until the driver has published nothing more or the queue reports an
// error. Returns false on error (a device would now need a reset).
bool drain(Queue& queue, uint16_t size, bool device_writes, uint32_t& popped) {
    DescriptorChain chain;
    DescriptorChain again;
    // Without device writes into the rings, the driver can have published at
    // most `size` chains; the queue must stop there.
    const uint32_t limit = uint32_t{size} + 1;
    for (uint32_t count = 0; count < limit; ++count) {
        auto more = queue.pop(memory(), chain);
        if (!more.ok()) {
            spdlog::debug("pop: {}", more.error().message);
            return false;
        }
        if (!*more) {
            return true;
        }
        spdlog::debug("chain {}: {} readable, {} writable descriptors; {} + {} bytes", chain.head(),
                      chain.readable().size(), chain.writable().size(), chain.readable_bytes(),
                      chain.writable_bytes());
        check_chain(chain, size);
        ++popped;
        if (popped % 3 == 0) {
            // Giving a chain back and popping it again yields the same chain.
            queue.undo_pop(1);
            auto repeated = queue.pop(memory(), again);
            FUZZ_CHECK(repeated.ok() && *repeated);
            FUZZ_CHECK(same_chain(chain, again));
        }
        uint32_t written = 0;
        if (device_writes) {
            for (const Descriptor& descriptor : chain.writable()) {
                const uint64_t length = std::min<uint64_t>(descriptor.length, 64);
                FUZZ_CHECK(memory().fill(descriptor.address, length, std::byte{0xa5}).ok());
                written += static_cast<uint32_t>(length);
            }
        }
        queue.add_used(chain.head(), written);
        (void)queue.needs_notification();
    }
    FUZZ_CHECK(device_writes);  // more than `size` chains from one ring
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz::init_logging();
    (void)memory();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 4) {
        return 0;
    }
    const auto queue_size = static_cast<uint16_t>(1u << (data[0] % 11));
    const uint8_t flags = data[1];
    const bool event_index = (flags & 1) != 0;
    const bool indirect = (flags & 2) != 0;
    const unsigned last = ((flags >> 2) & 3) % 3;
    const bool device_writes = (flags & 0x10) != 0;
    uint16_t second_index = 0;
    std::memcpy(&second_index, data + 2, sizeof(second_index));
    data += 4;
    size -= 4;

    FUZZ_CHECK(memory().fill(kMemoryStart, kMemorySize, std::byte{0}).ok());
    const Layout layout = lay_out(queue_size, last);
    place(data, size, layout.descriptors, ring::descriptor_table_bytes(queue_size));
    place(data, size, layout.available, ring::available_ring_bytes(queue_size));
    place(data, size, kMemoryStart, kRingArea);

    QueueConfig config;
    config.max_size = kMaxQueueSize;
    config.size = queue_size;
    config.ready = true;
    config.descriptor_table = layout.descriptors;
    config.available_ring = layout.available;
    config.used_ring = layout.used;
    auto created = Queue::create(config, memory(), event_index, indirect);
    FUZZ_CHECK(created.ok());  // the layout is valid by construction
    Queue& queue = created.value();

    uint32_t popped = 0;
    if (!drain(queue, queue_size, device_writes, popped)) {
        return 0;
    }
    (void)queue.enable_notification();
    queue.disable_notification();
    // The driver publishes up to a new index (perhaps far ahead: an error).
    FUZZ_CHECK(memory().write_object(layout.available + 2, second_index).ok());
    (void)queue.has_available(memory());
    (void)drain(queue, queue_size, device_writes, popped);
    return 0;
}
