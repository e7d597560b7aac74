// The VMM's event loop: one epoll set whose ready fds run their handlers on
// the thread that calls run_once(). Console input, signals, timers and every
// device data path (virtqueue kicks, tap readiness) are handlers here, so
// the data path never runs on a vCPU thread.
//
// add() and remove() may be called from any thread (a vCPU thread activates
// or resets a device). A handler removed while the loop thread is already
// dispatching a batch may still run once; handlers therefore check their
// own state under their own lock.
#pragma once

#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <unordered_map>

namespace skiff {

class EventLoop final {
public:
    // Called with the epoll event bits (EPOLLIN, EPOLLOUT, ...).
    using Handler = std::function<void(uint32_t events)>;

    static Result<std::unique_ptr<EventLoop>> create();

    // Watches `fd` for `events` (level-triggered). Fails if fd is already
    // watched.
    [[nodiscard]] Result<void> add(int fd, uint32_t events, Handler handler);
    // Changes the events watched for fd.
    [[nodiscard]] Result<void> modify(int fd, uint32_t events);
    // Stops watching fd; unknown fds are ignored.
    void remove(int fd);
    // Waits up to timeout_ms (-1: forever) and runs the handlers of the fds
    // that became ready. EINTR is not an error.
    [[nodiscard]] Result<void> run_once(int timeout_ms);
    // Makes a blocked run_once() return (from any thread).
    void wake();

private:
    EventLoop(UniqueFd epoll, UniqueFd wake);
    UniqueFd epoll_;
    UniqueFd wake_;
    std::mutex mutex_;
    std::unordered_map<int, std::shared_ptr<Handler>> handlers_;
};

}  // namespace skiff
