// A non-blocking Linux eventfd: the doorbell between a vCPU (or KVM, as an
// ioeventfd), the event loop, and KVM's irqfd. Move-only.
#pragma once

#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <cstdint>

namespace skiff {

class EventFd final {
public:
    static Result<EventFd> create();

    [[nodiscard]] int fd() const { return fd_.get(); }
    // Adds one to the counter. Cannot fail short of the counter reaching
    // its 2^64-2 limit, which nothing here comes near; a failure is ignored.
    void signal() const;
    // Reads and clears the counter; 0 if it was already 0.
    uint64_t consume() const;

private:
    explicit EventFd(UniqueFd fd) : fd_(std::move(fd)) {}
    UniqueFd fd_;
};

}  // namespace skiff
