// A tap interface as skiff's packet backend: frames with a 12-byte
// virtio_net_hdr_v1 in front (IFF_VNET_HDR, TUNSETVNETHDRSZ 12), no packet
// information header (IFF_NO_PI), a non-blocking fd for the event loop, and
// the checksum/TSO offloads the kernel accepts (TUNSETOFFLOAD).
//
// Single queue: skiff opens taps without IFF_MULTI_QUEUE (an fd handed in
// may be one queue of a multi-queue tap; it is used as that one queue).
//
// Lifetime: a tap skiff creates is not made persistent, so the kernel
// removes it when this Tap (its only fd) is destroyed, on every exit path
// including a crash. A tap that existed before (persistent) or came in as
// an fd stays.
//
// Send errors that a guest or the host's admin can cause - the interface
// is down (EIO), the kernel refuses the guest's frame or vnet header
// (EINVAL), the kernel is short of memory - drop that frame: send()
// returns Done (the guest's transmit completes, as on a NIC whose cable is
// out), dropped_frames() counts it and a warning is logged, rate-limited per
// tap (vmm/log_limit.h). Only errors that leave the tap unusable (it was deleted:
// EBADFD) are Errors.
#pragma once

#include "net/backend.h"
#include "vmm/log_limit.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

namespace skiff::net {

struct TapOptions {
    // Without fd: the tap to open, or to create when no interface has this
    // name (creation needs CAP_NET_ADMIN; opening a persistent tap owned
    // by the user or their group does not). With fd: if not empty, the
    // name the fd's interface must have.
    std::string ifname;
    // An open tap handed over by the caller (a jailer, a runtime). It must
    // have been set up with IFF_TAP | IFF_NO_PI | IFF_VNET_HDR. The Tap owns
    // it from here on, also when open() fails.
    UniqueFd fd;
};

class Tap final : public NetBackend {
public:
    // Errors name the tap, the cause and the fix, e.g. "tap 'tap0':
    // /dev/net/tun: permission denied: ..." or "fd 5 (pipe:[1234]) is not
    // a tap (TUNGETIFF: Inappropriate ioctl for device): pass an fd of
    // /dev/net/tun attached to a tap with TUNSETIFF".
    static Result<std::unique_ptr<Tap>> open(TapOptions options);

    [[nodiscard]] int fd() const override { return fd_.get(); }
    [[nodiscard]] Result<IoResult> send(std::span<const iovec> frame) override;
    [[nodiscard]] Result<IoResult> receive(std::span<const iovec> buffers, size_t& received) override;
    [[nodiscard]] Offloads supported_offloads() const override { return supported_; }
    // Fails for an offload not in supported_offloads(), and for TSO without
    // checksum (the kernel needs partial checksums to segment).
    [[nodiscard]] Result<void> set_offloads(const Offloads& offloads) override;
    [[nodiscard]] const std::string& name() const override { return name_; }

    // True when skiff created the interface (it goes away with this Tap).
    [[nodiscard]] bool created() const { return created_; }
    // Frames from the guest the kernel did not take (see the file comment).
    // Any thread may read it; send() counts.
    [[nodiscard]] uint64_t dropped_frames() const { return dropped_frames_.load(std::memory_order_relaxed); }

private:
    Tap(UniqueFd fd, std::string name, bool created) : fd_(std::move(fd)), name_(std::move(name)), created_(created) {}
    Result<void> prepare();
    void count_dropped_frame(int error);

    UniqueFd fd_;
    std::string name_;
    bool created_ = false;
    Offloads supported_;
    // send() and receive() may run on different threads: the drop
    // bookkeeping belongs to send() alone.
    std::atomic<uint64_t> dropped_frames_ = 0;
    LogLimiter drop_warnings_;
};

}  // namespace skiff::net
