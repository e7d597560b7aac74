#include "net/netlink.h"

#include "vmm/unique_fd.h"

#include <sys/socket.h>

#include <cerrno>
#include <cstddef>

namespace skiff::net {

NetlinkMessage::NetlinkMessage(uint16_t type, uint16_t flags) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    header.nlmsg_seq = 1;
    append_aligned(std::as_bytes(std::span<const nlmsghdr, 1>(&header, 1)));
}

uint16_t NetlinkMessage::type() const {
    nlmsghdr header;
    std::memcpy(&header, buffer_.data(), sizeof(header));
    return header.nlmsg_type;
}

void NetlinkMessage::append_aligned(std::span<const std::byte> bytes) {
    buffer_.insert(buffer_.end(), bytes.begin(), bytes.end());
    buffer_.resize(NLMSG_ALIGN(buffer_.size()));
    set_length();
}

void NetlinkMessage::set_length() {
    auto length = static_cast<uint32_t>(buffer_.size());
    std::memcpy(buffer_.data() + offsetof(nlmsghdr, nlmsg_len), &length, sizeof(length));
}

void NetlinkMessage::put(uint16_t type, std::span<const std::byte> payload) {
    nlattr attribute{};
    attribute.nla_len = static_cast<uint16_t>(NLA_HDRLEN + payload.size());
    attribute.nla_type = type;
    size_t at = buffer_.size();
    buffer_.resize(at + NLA_ALIGN(NLA_HDRLEN + payload.size()));
    std::memcpy(buffer_.data() + at, &attribute, sizeof(attribute));
    if (!payload.empty()) {
        std::memcpy(buffer_.data() + at + NLA_HDRLEN, payload.data(), payload.size());
    }
    set_length();
}

void NetlinkMessage::put_u32(uint16_t type, uint32_t value) {
    put(type, std::as_bytes(std::span<const uint32_t, 1>(&value, 1)));
}

void NetlinkMessage::put_u16(uint16_t type, uint16_t value) {
    put(type, std::as_bytes(std::span<const uint16_t, 1>(&value, 1)));
}

void NetlinkMessage::put_string(uint16_t type, std::string_view text) {
    std::vector<std::byte> payload(text.size() + 1);
    std::memcpy(payload.data(), text.data(), text.size());
    put(type, payload);
}

size_t NetlinkMessage::begin_nested(uint16_t type) {
    size_t token = buffer_.size();
    put(static_cast<uint16_t>(type | NLA_F_NESTED), {});
    return token;
}

void NetlinkMessage::end_nested(size_t token) {
    auto length = static_cast<uint16_t>(buffer_.size() - token);
    std::memcpy(buffer_.data() + token + offsetof(nlattr, nla_len), &length, sizeof(length));
}

Result<int> netlink_transact(const NetlinkMessage& message) {
    UniqueFd socket_fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!socket_fd.valid()) {
        return errno_error("opening a netlink socket");
    }
    auto request = message.bytes();
    if (::send(socket_fd.get(), request.data(), request.size(), 0) < 0) {
        return errno_error(fmt::format("sending netlink request {}", message.type()));
    }
    // The acknowledgement: an NLMSG_ERROR whose error is 0 on success. It
    // echoes the request after it (no NETLINK_CAP_ACK), so leave room.
    std::vector<uint8_t> reply(request.size() + 4096);
    for (;;) {
        ssize_t length = ::recv(socket_fd.get(), reply.data(), reply.size(), 0);
        if (length < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno_error("reading the netlink reply");
        }
        if (static_cast<size_t>(length) < NLMSG_HDRLEN) {
            return Error::format("netlink reply of {} bytes", length);
        }
        nlmsghdr header;
        std::memcpy(&header, reply.data(), sizeof(header));
        if (header.nlmsg_len > static_cast<size_t>(length) || header.nlmsg_len < NLMSG_HDRLEN) {
            return Error{"malformed netlink reply"};
        }
        if (header.nlmsg_type != NLMSG_ERROR) {
            continue;  // not the acknowledgement (a request may get data first)
        }
        if (header.nlmsg_len < NLMSG_HDRLEN + sizeof(int)) {
            return Error{"truncated netlink acknowledgement"};
        }
        int error = 0;
        std::memcpy(&error, reply.data() + NLMSG_HDRLEN, sizeof(error));
        return -error;
    }
}

}  // namespace skiff::net
