// A NetBackend over a SOCK_SEQPACKET socket pair: frames keep their
// boundaries, the fd polls like a tap's, and the test holds the other end
// (the "host side").
#pragma once

#include "net/backend.h"

#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace skiff::testing {

class FakeNetBackend final : public net::NetBackend {
public:
    FakeNetBackend() {
        int fds[2];
        if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
            throw std::runtime_error("socketpair");
        }
        fd_ = fds[0];
        peer_ = fds[1];
    }
    ~FakeNetBackend() override {
        ::close(fd_);
        ::close(peer_);
    }

    [[nodiscard]] int fd() const override { return fd_; }
    [[nodiscard]] int peer() const { return peer_; }
    Result<net::IoResult> send(std::span<const iovec> frame) override {
        msghdr message{};
        message.msg_iov = const_cast<iovec*>(frame.data());
        message.msg_iovlen = frame.size();
        if (::sendmsg(fd_, &message, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
            if (errno == EAGAIN) {
                return net::IoResult::WouldBlock;
            }
            return errno_error("sendmsg");
        }
        return net::IoResult::Done;
    }
    Result<net::IoResult> receive(std::span<const iovec> buffers, size_t& received) override {
        msghdr message{};
        message.msg_iov = const_cast<iovec*>(buffers.data());
        message.msg_iovlen = buffers.size();
        ssize_t count = ::recvmsg(fd_, &message, MSG_DONTWAIT);
        if (count < 0) {
            if (errno == EAGAIN) {
                return net::IoResult::WouldBlock;
            }
            return errno_error("recvmsg");
        }
        received = static_cast<size_t>(count);
        return net::IoResult::Done;
    }
    [[nodiscard]] net::Offloads supported_offloads() const override { return supported; }
    Result<void> set_offloads(const net::Offloads& offloads) override {
        enabled = offloads;
        return {};
    }
    [[nodiscard]] const std::string& name() const override { return name_; }

    // The host side: inject a frame for the guest, take one the guest sent.
    void inject(const std::vector<uint8_t>& frame) const {
        if (::send(peer_, frame.data(), frame.size(), MSG_DONTWAIT) != static_cast<ssize_t>(frame.size())) {
            throw std::runtime_error(std::string("inject: ") + std::strerror(errno));
        }
    }
    [[nodiscard]] std::vector<uint8_t> take() const {
        std::vector<uint8_t> frame(70000);
        ssize_t count = ::recv(peer_, frame.data(), frame.size(), MSG_DONTWAIT);
        frame.resize(count < 0 ? 0 : static_cast<size_t>(count));
        return frame;
    }

    net::Offloads supported{true, true, true};
    net::Offloads enabled{};

private:
    int fd_ = -1;
    int peer_ = -1;
    std::string name_ = "fake0";
};

}  // namespace skiff::testing
