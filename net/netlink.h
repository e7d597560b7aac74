// rtnetlink requests, built without a library: a request is a header, a
// family struct and attributes, nested where the kernel expects it.
// netlink_transact() sends one that changes something (create, delete, set
// attributes) on a fresh NETLINK_ROUTE socket and waits for the kernel's
// acknowledgement; netlink_query() also returns the data a request asks
// for (RTM_GETLINK).
//
// A request's bytes can be built ahead of time and sent later with nothing
// but socket(2) and send(2) - the way a crash-signal handler removes the
// interfaces skiff created (net/created_links.h).
#pragma once

#include "vmm/result.h"

#include <linux/netlink.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string_view>
#include <vector>

namespace skiff::net {

class NetlinkMessage {
public:
    // NLM_F_REQUEST | NLM_F_ACK are always set; `flags` adds NLM_F_CREATE,
    // NLM_F_EXCL, ...
    NetlinkMessage(uint16_t type, uint16_t flags);

    // A link request (RTM_NEWLINK, RTM_SETLINK, RTM_GETLINK, RTM_DELLINK):
    // the header and an AF_UNSPEC ifinfomsg for interface `index` (0: the
    // request names it with IFLA_IFNAME, or means every interface).
    [[nodiscard]] static NetlinkMessage link(uint16_t type, unsigned index = 0, uint16_t flags = 0);

    // The family header (ifinfomsg for links); call once, before attributes.
    template <typename T>
        requires std::is_trivially_copyable_v<T>
    void append_header(const T& header) {
        append_aligned(std::as_bytes(std::span<const T, 1>(&header, 1)));
    }

    void put(uint16_t type, std::span<const std::byte> payload);
    void put_u32(uint16_t type, uint32_t value);
    void put_u16(uint16_t type, uint16_t value);
    // NUL-terminated, as IFLA_IFNAME and IFLA_INFO_KIND want.
    void put_string(uint16_t type, std::string_view text);

    // A nested attribute: attributes put until end_nested() go inside it.
    [[nodiscard]] size_t begin_nested(uint16_t type);
    void end_nested(size_t token);

    // The whole message, nlmsg_len filled in.
    [[nodiscard]] std::span<const std::byte> bytes() const { return buffer_; }
    [[nodiscard]] uint16_t type() const;

private:
    void append_aligned(std::span<const std::byte> bytes);
    void set_length();

    std::vector<std::byte> buffer_;
};

// The kernel's answer to one request.
struct NetlinkAnswer {
    int error = 0;  // 0, or the positive errno it answered with
    // The first data message before the acknowledgement (RTM_NEWLINK for
    // an RTM_GETLINK): its type, and its payload after the nlmsghdr (the
    // family struct, then attributes). Type 0 and empty when none came.
    uint16_t type = 0;
    std::vector<uint8_t> payload;
};

// Sends `message` and reads until its acknowledgement. An Error only when
// netlink itself failed (socket, send, malformed reply).
Result<NetlinkAnswer> netlink_query(const NetlinkMessage& message);

// A dump (the request built with NLM_F_DUMP, e.g. RTM_GETLINK for every
// link): visit(type, payload) for each message until the kernel's
// NLMSG_DONE; 0 or the positive errno it answered with.
Result<int> netlink_dump(const NetlinkMessage& request,
                         const std::function<void(uint16_t type, std::span<const uint8_t> payload)>& visit);

// netlink_query() for a request that returns no data: 0 or the positive
// errno the kernel answered with (EPERM, EEXIST, ENODEV, ...).
Result<int> netlink_transact(const NetlinkMessage& message);

// The attributes after the family struct `Header` in a data message's
// payload (NetlinkAnswer::payload); empty when the payload is too short.
template <typename Header>
std::span<const uint8_t> netlink_attributes_after(std::span<const uint8_t> payload) {
    if (payload.size() < NLMSG_ALIGN(sizeof(Header))) {
        return {};
    }
    return payload.subspan(NLMSG_ALIGN(sizeof(Header)));
}

// Walks the netlink attributes in `bytes`, calling visit(type, payload) with
// the type's flag bits cleared. Stops at the first malformed attribute.
template <typename Visit>
void for_each_netlink_attribute(std::span<const uint8_t> bytes, Visit&& visit) {
    while (bytes.size() >= NLA_HDRLEN) {
        nlattr attribute;
        std::memcpy(&attribute, bytes.data(), sizeof(attribute));
        if (attribute.nla_len < NLA_HDRLEN || attribute.nla_len > bytes.size()) {
            return;
        }
        visit(attribute.nla_type & NLA_TYPE_MASK, bytes.subspan(NLA_HDRLEN, attribute.nla_len - NLA_HDRLEN));
        size_t advance = std::min<size_t>(NLA_ALIGN(attribute.nla_len), bytes.size());
        bytes = bytes.subspan(advance);
    }
}

}  // namespace skiff::net
