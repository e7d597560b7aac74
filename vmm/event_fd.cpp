#include "vmm/event_fd.h"

#include <sys/eventfd.h>
#include <unistd.h>

namespace skiff {

Result<EventFd> EventFd::create() {
    const int fd = ::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) {
        return errno_error("eventfd");
    }
    return EventFd(UniqueFd(fd));
}

void EventFd::signal() const {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(fd_.get(), &one, sizeof(one));
}

uint64_t EventFd::consume() const {
    uint64_t count = 0;
    if (::read(fd_.get(), &count, sizeof(count)) != static_cast<ssize_t>(sizeof(count))) {
        return 0;  // EAGAIN: nothing pending
    }
    return count;
}

}  // namespace skiff
