#include "net/netlink.h"

#include "vmm/unique_fd.h"

#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <optional>

namespace skiff::net {

NetlinkMessage::NetlinkMessage(uint16_t type, uint16_t flags) {
    nlmsghdr header{};
    header.nlmsg_type = type;
    header.nlmsg_flags = static_cast<uint16_t>(NLM_F_REQUEST | NLM_F_ACK | flags);
    header.nlmsg_seq = 1;
    append_aligned(std::as_bytes(std::span<const nlmsghdr, 1>(&header, 1)));
}

NetlinkMessage NetlinkMessage::link(uint16_t type, unsigned index, uint16_t flags) {
    NetlinkMessage message(type, flags);
    ifinfomsg info{};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = static_cast<int>(index);
    message.append_header(info);
    return message;
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

namespace {

// Sends `message` on a fresh NETLINK_ROUTE socket, then hands every reply
// message to on_reply(header, body) until it returns true.
template <typename OnReply>
Result<void> exchange(const NetlinkMessage& message, OnReply&& on_reply) {
    UniqueFd socket_fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
    if (!socket_fd.valid()) {
        return errno_error("opening a netlink socket");
    }
    auto request = message.bytes();
    if (::send(socket_fd.get(), request.data(), request.size(), 0) < 0) {
        return errno_error(fmt::format("sending netlink request {}", message.type()));
    }
    std::vector<uint8_t> datagram;
    for (;;) {
        // A datagram's size first: an RTM_NEWLINK with every VF of a PF
        // can be tens of kilobytes.
        ssize_t length = ::recv(socket_fd.get(), nullptr, 0, MSG_PEEK | MSG_TRUNC);
        if (length >= 0) {
            datagram.resize(std::max<size_t>(static_cast<size_t>(length), NLMSG_HDRLEN));
            length = ::recv(socket_fd.get(), datagram.data(), datagram.size(), 0);
        }
        if (length < 0) {
            if (errno == EINTR) {
                continue;
            }
            return errno_error("reading the netlink reply");
        }
        std::span<const uint8_t> rest(datagram.data(), static_cast<size_t>(length));
        if (rest.size() < NLMSG_HDRLEN) {
            return Error::format("netlink reply of {} bytes", length);
        }
        // One datagram may hold several messages.
        while (rest.size() >= NLMSG_HDRLEN) {
            nlmsghdr header;
            std::memcpy(&header, rest.data(), sizeof(header));
            if (header.nlmsg_len > rest.size() || header.nlmsg_len < NLMSG_HDRLEN) {
                return Error{"malformed netlink reply"};
            }
            if (on_reply(header, rest.subspan(NLMSG_HDRLEN, header.nlmsg_len - NLMSG_HDRLEN))) {
                return {};
            }
            rest = rest.subspan(std::min<size_t>(NLMSG_ALIGN(header.nlmsg_len), rest.size()));
        }
    }
}

// The errno of an NLMSG_ERROR (or NLMSG_DONE) body: its leading int,
// negated; nullopt when the body is too short to hold one.
std::optional<int> answered_errno(std::span<const uint8_t> body) {
    if (body.size() < sizeof(int)) {
        return std::nullopt;
    }
    int error = 0;
    std::memcpy(&error, body.data(), sizeof(error));
    return -error;
}

}  // namespace

Result<NetlinkAnswer> netlink_query(const NetlinkMessage& message) {
    NetlinkAnswer answer;
    bool truncated = false;
    TRY(exchange(message, [&](const nlmsghdr& header, std::span<const uint8_t> body) {
        if (header.nlmsg_type == NLMSG_ERROR) {
            // The acknowledgement: error 0 on success. It echoes the
            // request after it (no NETLINK_CAP_ACK); only the error counts.
            auto error = answered_errno(body);
            truncated = !error;
            answer.error = error.value_or(0);
            return true;
        }
        if (answer.type == 0 && header.nlmsg_type >= NLMSG_MIN_TYPE) {
            answer.type = header.nlmsg_type;
            answer.payload.assign(body.begin(), body.end());
        }
        return false;
    }));
    if (truncated) {
        return Error{"truncated netlink acknowledgement"};
    }
    return answer;
}

Result<int> netlink_dump(const NetlinkMessage& request,
                         const std::function<void(uint16_t type, std::span<const uint8_t> payload)>& visit) {
    int result = 0;
    TRY(exchange(request, [&](const nlmsghdr& header, std::span<const uint8_t> body) {
        if (header.nlmsg_type == NLMSG_DONE || header.nlmsg_type == NLMSG_ERROR) {
            result = answered_errno(body).value_or(0);
            return true;
        }
        if (header.nlmsg_type >= NLMSG_MIN_TYPE) {
            visit(header.nlmsg_type, body);
        }
        return false;
    }));
    return result;
}

Result<int> netlink_transact(const NetlinkMessage& message) {
    NetlinkAnswer answer = TRY(netlink_query(message));
    return answer.error;
}

}  // namespace skiff::net
