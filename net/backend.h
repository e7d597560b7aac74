// The packet backend of the in-process virtio-net data path: where frames
// from the guest go and where frames for it come from. Frames cross this
// interface with a 12-byte virtio_net_hdr_v1 in front (the tap's vnet
// header), as scatter-gather lists that point straight into guest memory.
#pragma once

#include "vmm/result.h"

#include <sys/uio.h>

#include <cstdint>
#include <span>
#include <string>

namespace skiff::net {

// The virtio_net_hdr_v1 every frame carries (VIRTIO 1.2, 5.1.6).
inline constexpr size_t kVnetHeaderSize = 12;

// Offloads a backend can take, as TUN_F_* bits of <linux/if_tun.h>.
struct Offloads {
    bool checksum = false;  // TUN_F_CSUM: partial checksums in both directions
    bool tso4 = false;      // TUN_F_TSO4
    bool tso6 = false;      // TUN_F_TSO6
};

enum class IoResult {
    Done,        // the whole frame was sent / one frame was received
    WouldBlock,  // nothing moved; wait for the backend's fd to be ready
};

class NetBackend {
public:
    virtual ~NetBackend() = default;

    // Pollable fd: readable when a frame is waiting, writable when a send
    // can succeed.
    [[nodiscard]] virtual int fd() const = 0;
    // Sends one frame (header + Ethernet frame, gathered from `frame`).
    [[nodiscard]] virtual Result<IoResult> send(std::span<const iovec> frame) = 0;
    // Receives one frame (header + Ethernet frame) scattered into `buffers`;
    // `received` is its length. A frame larger than the buffers is truncated
    // by the kernel: callers pass buffers for the largest frame possible.
    [[nodiscard]] virtual Result<IoResult> receive(std::span<const iovec> buffers, size_t& received) = 0;
    // Offloads the backend can take; set_offloads() enables a subset (the
    // guest's negotiated receive offloads).
    [[nodiscard]] virtual Offloads supported_offloads() const = 0;
    [[nodiscard]] virtual Result<void> set_offloads(const Offloads& offloads) = 0;
    // For logs: the interface name.
    [[nodiscard]] virtual const std::string& name() const = 0;
};

}  // namespace skiff::net
