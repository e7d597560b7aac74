#include "net/netlink.h"

#include <sys/socket.h>

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <catch2/catch.hpp>

#include <map>
#include <string>

using namespace skiff::net;

namespace {

std::span<const uint8_t> as_u8(std::span<const std::byte> bytes) {
    return {reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size()};
}

}  // namespace

TEST_CASE("a netlink request carries its header, family struct and nested attributes", "[netlink]") {
    NetlinkMessage message(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    ifinfomsg info{};
    info.ifi_family = AF_UNSPEC;
    message.append_header(info);
    message.put_string(IFLA_IFNAME, "mvt0");
    message.put_u32(IFLA_LINK, 7);
    size_t linkinfo = message.begin_nested(IFLA_LINKINFO);
    message.put_string(IFLA_INFO_KIND, "macvtap");
    size_t data = message.begin_nested(IFLA_INFO_DATA);
    message.put_u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
    message.end_nested(data);
    message.end_nested(linkinfo);

    auto bytes = as_u8(message.bytes());
    nlmsghdr header;
    std::memcpy(&header, bytes.data(), sizeof(header));
    CHECK(header.nlmsg_len == bytes.size());
    CHECK(header.nlmsg_type == RTM_NEWLINK);
    CHECK(header.nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL));
    CHECK(bytes.size() % 4 == 0);

    std::map<unsigned, std::vector<uint8_t>> top;
    for_each_netlink_attribute(bytes.subspan(NLMSG_SPACE(sizeof(ifinfomsg))), [&](unsigned type, auto payload) {
        top[type] = std::vector<uint8_t>(payload.begin(), payload.end());
    });
    REQUIRE(top.size() == 3);
    CHECK(std::string(reinterpret_cast<const char*>(top[IFLA_IFNAME].data())) == "mvt0");
    CHECK(top[IFLA_IFNAME].size() == 5);  // NUL included
    uint32_t link = 0;
    std::memcpy(&link, top[IFLA_LINK].data(), 4);
    CHECK(link == 7);

    std::string kind;
    uint32_t mode = 0;
    for_each_netlink_attribute(top[IFLA_LINKINFO], [&](unsigned type, auto payload) {
        if (type == IFLA_INFO_KIND) {
            kind = reinterpret_cast<const char*>(payload.data());
        } else if (type == IFLA_INFO_DATA) {
            for_each_netlink_attribute(payload, [&](unsigned inner, auto value) {
                if (inner == IFLA_MACVLAN_MODE) {
                    std::memcpy(&mode, value.data(), 4);
                }
            });
        }
    });
    CHECK(kind == "macvtap");
    CHECK(mode == MACVLAN_MODE_BRIDGE);
}

TEST_CASE("the attribute walk stops at a malformed attribute", "[netlink]") {
    std::vector<uint8_t> bytes{8, 0, 1, 0, 42, 0, 0, 0, 200, 0, 2, 0, 0, 0, 0, 0};
    std::vector<unsigned> seen;
    for_each_netlink_attribute(bytes, [&](unsigned type, auto) { seen.push_back(type); });
    CHECK(seen == std::vector<unsigned>{1});
}
