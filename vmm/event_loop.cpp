#include "vmm/event_loop.h"

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include <fmt/format.h>

namespace skiff {

namespace {
Error errno_message(const char* what, int fd) {
    return Error{fmt::format("{} (fd {}): {}", what, fd, std::strerror(errno))};
}
}  // namespace

EventLoop::EventLoop(UniqueFd epoll, UniqueFd wake) : epoll_(std::move(epoll)), wake_(std::move(wake)) {}

Result<std::unique_ptr<EventLoop>> EventLoop::create() {
    UniqueFd epoll(::epoll_create1(EPOLL_CLOEXEC));
    if (!epoll.valid()) {
        return errno_message("epoll_create1", -1);
    }
    UniqueFd wake(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
    if (!wake.valid()) {
        return errno_message("eventfd", -1);
    }
    epoll_event event{};
    event.events = EPOLLIN;
    event.data.fd = wake.get();
    if (::epoll_ctl(epoll.get(), EPOLL_CTL_ADD, wake.get(), &event) != 0) {
        return errno_message("epoll_ctl add", wake.get());
    }
    return std::unique_ptr<EventLoop>(new EventLoop(std::move(epoll), std::move(wake)));
}

Result<void> EventLoop::add(int fd, uint32_t events, Handler handler) {
    std::lock_guard lock(mutex_);
    if (handlers_.contains(fd)) {
        return Error{fmt::format("event loop: fd {} is already watched", fd)};
    }
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &event) != 0) {
        return errno_message("epoll_ctl add", fd);
    }
    handlers_.emplace(fd, std::make_shared<Handler>(std::move(handler)));
    return {};
}

Result<void> EventLoop::modify(int fd, uint32_t events) {
    std::lock_guard lock(mutex_);
    epoll_event event{};
    event.events = events;
    event.data.fd = fd;
    if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &event) != 0) {
        return errno_message("epoll_ctl mod", fd);
    }
    return {};
}

void EventLoop::remove(int fd) {
    std::lock_guard lock(mutex_);
    if (handlers_.erase(fd) != 0) {
        ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
    }
}

void EventLoop::wake() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t written = ::write(wake_.get(), &one, sizeof(one));
}

Result<void> EventLoop::run_once(int timeout_ms) {
    constexpr int kBatch = 32;
    epoll_event events[kBatch];
    int count = ::epoll_wait(epoll_.get(), events, kBatch, timeout_ms);
    if (count < 0) {
        if (errno == EINTR) {
            return {};
        }
        return errno_message("epoll_wait", epoll_.get());
    }
    for (int i = 0; i < count; ++i) {
        int fd = events[i].data.fd;
        if (fd == wake_.get()) {
            uint64_t value = 0;
            [[maybe_unused]] ssize_t got = ::read(fd, &value, sizeof(value));
            continue;
        }
        std::shared_ptr<Handler> handler;
        {
            std::lock_guard lock(mutex_);
            auto found = handlers_.find(fd);
            if (found == handlers_.end()) {
                continue;  // removed by an earlier handler of this batch
            }
            handler = found->second;
        }
        (*handler)(events[i].events);
    }
    return {};
}

}  // namespace skiff
