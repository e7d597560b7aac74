// The vhost protocol as a VMM drives it: the messages that the kernel's
// vhost (ioctls on /dev/vhost-*) and a vhost-user back end (messages on a
// unix socket) have in common. vhost_vrings.h sets up rings over this
// interface once for both; vhost_kernel.h implements it with ioctls.
//
// Every call returns an Error naming the message and the cause.
#pragma once

#include "vmm/result.h"

#include <cstdint>
#include <span>

namespace skiff::vhost {

// One range of guest memory as the back end sees it: guest-physical start,
// size, and where it is mapped in this process.
struct MemoryRegion {
    uint64_t guest_phys_addr = 0;
    uint64_t memory_size = 0;
    uint64_t userspace_addr = 0;
    bool operator==(const MemoryRegion&) const = default;
};

// A queue's rings as host (this process's) addresses (VHOST_SET_VRING_ADDR).
struct VringAddresses {
    uint64_t desc_user_addr = 0;
    uint64_t used_user_addr = 0;
    uint64_t avail_user_addr = 0;
    uint64_t log_guest_addr = 0;  // dirty logging only; unused
    uint32_t flags = 0;           // VHOST_VRING_F_LOG; unused
    bool operator==(const VringAddresses&) const = default;
};

class VhostBackend {
public:
    virtual ~VhostBackend() = default;

    // Makes this process the back end's owner (first message of a session).
    [[nodiscard]] virtual Result<void> set_owner() = 0;
    // The virtio and vhost feature bits the back end implements.
    [[nodiscard]] virtual Result<uint64_t> get_features() = 0;
    // The negotiated subset of get_features().
    [[nodiscard]] virtual Result<void> set_features(uint64_t features) = 0;
    // Guest memory: every region rings and buffers may lie in.
    [[nodiscard]] virtual Result<void> set_mem_table(std::span<const MemoryRegion> regions) = 0;
    // Queue `index`'s size.
    [[nodiscard]] virtual Result<void> set_vring_num(uint32_t index, uint32_t size) = 0;
    // The available index the back end starts from.
    [[nodiscard]] virtual Result<void> set_vring_base(uint32_t index, uint32_t base) = 0;
    // Stops queue `index` and returns the available index it stopped at.
    [[nodiscard]] virtual Result<uint32_t> get_vring_base(uint32_t index) = 0;
    [[nodiscard]] virtual Result<void> set_vring_addr(uint32_t index, const VringAddresses& addresses) = 0;
    // The eventfd the driver's notifications arrive on.
    [[nodiscard]] virtual Result<void> set_vring_kick(uint32_t index, int fd) = 0;
    // The eventfd the back end writes to interrupt the driver.
    [[nodiscard]] virtual Result<void> set_vring_call(uint32_t index, int fd) = 0;
};

class VhostNetBackend : public VhostBackend {
public:
    // Attaches the packet socket (a tap's fd) to queue `index`, or detaches
    // it with fd -1, which stops the queue.
    [[nodiscard]] virtual Result<void> net_set_backend(uint32_t index, int fd) = 0;
};

}  // namespace skiff::vhost
