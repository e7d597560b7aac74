#include "devices/virtio/vhost/vhost_vrings.h"

#include <optional>

namespace skiff::vhost {

namespace {

Result<uint64_t> host_address(const GuestMemory& memory, GuestAddress address, uint64_t length, uint32_t index,
                              std::string_view ring) {
    auto bytes = memory.slice(address, length);
    if (!bytes.ok()) {
        return Error::format("queue {}: {} at {:#x} ({} bytes) is not inside guest memory", index, ring,
                             address.value(), length);
    }
    return reinterpret_cast<uint64_t>(bytes->data());
}

}  // namespace

std::vector<MemoryRegion> memory_table(const GuestMemory& memory) {
    std::vector<MemoryRegion> table;
    for (const GuestRegion& region : memory.regions()) {
        table.push_back(MemoryRegion{.guest_phys_addr = region.start.value(),
                                     .memory_size = region.size,
                                     .userspace_addr = reinterpret_cast<uint64_t>(region.host)});
    }
    return table;
}

Result<VringAddresses> vring_addresses(const GuestMemory& memory, uint32_t index, const virtio::QueueConfig& config) {
    return VringAddresses{
        .desc_user_addr = TRY(host_address(memory, config.descriptor_table,
                                           virtio::ring::descriptor_table_bytes(config.size), index, "descriptor table")),
        .used_user_addr =
            TRY(host_address(memory, config.used_ring, virtio::ring::used_ring_bytes(config.size), index, "used ring")),
        .avail_user_addr = TRY(host_address(memory, config.available_ring,
                                            virtio::ring::available_ring_bytes(config.size), index, "available ring")),
        .log_guest_addr = 0,
        .flags = 0,
    };
}

Result<void> start_vrings(VhostBackend& backend, const GuestMemory& memory, uint64_t acked_features,
                          uint64_t backend_features, std::span<const VringSetup> queues) {
    // Everything checked before the first message.
    std::vector<VringAddresses> addresses;
    for (const VringSetup& queue : queues) {
        if (queue.config.size == 0) {
            return Error::format("queue {}: size 0", queue.index);
        }
        addresses.push_back(TRY(vring_addresses(memory, queue.index, queue.config)));
    }
    TRY(backend.set_features(acked_features & backend_features));
    std::vector<MemoryRegion> table = memory_table(memory);
    TRY(backend.set_mem_table(table));
    for (size_t i = 0; i < queues.size(); ++i) {
        const VringSetup& queue = queues[i];
        TRY(backend.set_vring_num(queue.index, queue.config.size));
        TRY(backend.set_vring_base(queue.index, queue.next_available));
        TRY(backend.set_vring_addr(queue.index, addresses[i]));
        TRY(backend.set_vring_kick(queue.index, queue.kick_fd));
        TRY(backend.set_vring_call(queue.index, queue.call_fd));
    }
    return {};
}

Result<std::vector<uint32_t>> stop_vrings(VhostBackend& backend, std::span<const uint32_t> indices) {
    std::vector<uint32_t> bases;
    std::optional<Error> first_error;
    for (uint32_t index : indices) {
        auto base = backend.get_vring_base(index);
        if (base.ok()) {
            bases.push_back(*base);
        } else if (!first_error) {
            first_error = base.error();
        }
    }
    if (first_error) {
        return *first_error;
    }
    return bases;
}

}  // namespace skiff::vhost
