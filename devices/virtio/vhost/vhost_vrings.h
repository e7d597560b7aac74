// Starting and stopping a device's virtqueues in a vhost back end, written
// once over VhostBackend so that the kernel's vhost and a vhost-user back
// end share it.
//
// start_vrings() first translates every ring into host addresses with
// GuestMemory::slice over the ring's full size (VIRTIO 1.2, 2.7: the
// descriptor table, the available ring with used_event, the used ring with
// avail_event); a ring outside guest memory is an Error before the back end
// has been sent anything, never a message with a wild pointer. Then, in
// this order:
//   SET_FEATURES (the acked features the back end knows),
//   SET_MEM_TABLE (every GuestMemory region),
//   per queue: SET_VRING_NUM, SET_VRING_BASE, SET_VRING_ADDR,
//              SET_VRING_KICK, SET_VRING_CALL.
// stop_vrings() sends GET_VRING_BASE per queue (which stops it).
#pragma once

#include "devices/virtio/queue.h"
#include "devices/virtio/vhost/vhost_backend.h"
#include "vmm/guest_memory.h"
#include "vmm/result.h"

#include <cstdint>
#include <span>
#include <vector>

namespace skiff::vhost {

struct VringSetup {
    uint32_t index = 0;
    virtio::QueueConfig config;   // the driver's rings and size
    uint16_t next_available = 0;  // where the back end starts popping
    int kick_fd = -1;             // the transport's notification eventfd
    int call_fd = -1;             // what the back end writes to interrupt
};

// The memory table for `memory`: one entry per region.
[[nodiscard]] std::vector<MemoryRegion> memory_table(const GuestMemory& memory);

// The host addresses of queue `index`'s rings, checked to lie in guest memory.
[[nodiscard]] Result<VringAddresses> vring_addresses(const GuestMemory& memory, uint32_t index,
                                                     const virtio::QueueConfig& config);

// See the file comment. `acked_features` is what the driver accepted,
// `backend_features` what the back end's get_features() offered: the back
// end is sent their intersection.
[[nodiscard]] Result<void> start_vrings(VhostBackend& backend, const GuestMemory& memory, uint64_t acked_features,
                                        uint64_t backend_features, std::span<const VringSetup> queues);

// GET_VRING_BASE for each of `indices`, all of them even after a failure:
// the bases in order, or the first error.
[[nodiscard]] Result<std::vector<uint32_t>> stop_vrings(VhostBackend& backend, std::span<const uint32_t> indices);

}  // namespace skiff::vhost
