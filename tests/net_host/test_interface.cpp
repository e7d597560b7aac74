#include <linux/if_tun.h>
// Host-side interface helpers and open_tap() (NetConfig → Tap) against the
// real kernel, in a private network namespace per test case.
#include "devices/vfio/sysfs_binding.h"
#include "net/interface.h"
#include "net/net_config.h"
#include "net/netlink.h"
#include "net/tap_setup.h"
#include "net_test_support.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <catch2/catch.hpp>

#include <cstring>

using namespace skiff;
using namespace skiff::test;

namespace {

void fresh_namespace() {
    auto error = enter_fresh_network_namespace();
    INFO(error);
    REQUIRE(error.empty());
}

std::unique_ptr<net::Tap> open_from(const std::string& text) {
    auto config = REQUIRE_OK(net::parse_net_config(text));
    return REQUIRE_OK(net::open_tap(config));
}

std::string open_error_from(const std::string& text) {
    auto config = REQUIRE_OK(net::parse_net_config(text));
    auto tap = net::open_tap(config);
    REQUIRE_FALSE(tap.ok());
    return tap.error().message;
}

}  // namespace

TEST_CASE("link state, MTU and MAC of an interface", "[interface]") {
    fresh_namespace();
    auto tap = open_from("mode=tap,ifname=skt0");
    CHECK(REQUIRE_OK(net::is_link_up("skt0")));  // open_tap brings a created tap up
    CHECK(REQUIRE_OK(net::interface_mtu("skt0")) == 1500);
    REQUIRE_OK(net::set_interface_mtu("skt0", 9000));
    CHECK(REQUIRE_OK(net::interface_mtu("skt0")) == 9000);

    auto too_big = net::set_interface_mtu("skt0", 70000);
    REQUIRE_FALSE(too_big.ok());
    CHECK_THAT(too_big.error().message, Catch::StartsWith("interface 'skt0': setting MTU 70000: "));

    // The tun driver's limit, which --net checks up front: 65535 less the
    // Ethernet header.
    REQUIRE_OK(net::set_interface_mtu("skt0", net::kMaxTapMtu));
    auto above = net::set_interface_mtu("skt0", net::kMaxTapMtu + 1);
    REQUIRE_FALSE(above.ok());
    CHECK_THAT(above.error().message, Catch::Contains("a tap takes 68 to 65521"));

    auto mac = REQUIRE_OK(net::MacAddress::parse("02:aa:bb:cc:dd:01"));
    REQUIRE_OK(net::set_interface_mac("skt0", mac));
    CHECK(REQUIRE_OK(net::interface_mac("skt0")) == mac);

    auto link = REQUIRE_OK(net::query_link("skt0"));
    CHECK(link.index > 1);
    CHECK(link.kind == "tun");
    CHECK_FALSE(link.master_index.has_value());
    CHECK(net::interface_name(link.index) == "skt0");
    CHECK(REQUIRE_OK(net::query_link("lo")).kind.empty());

    for (auto error : {net::is_link_up("nosuch0").error(), net::set_link_up("nosuch0").error(),
                       net::interface_mtu("nosuch0").error(), net::query_link("nosuch0").error()}) {
        CHECK(error.message == "interface 'nosuch0' does not exist");
    }
    CHECK_FALSE(REQUIRE_OK(net::find_link("nosuch0")).has_value());
}

TEST_CASE("mtu= sets the tap's MTU", "[interface][tap]") {
    fresh_namespace();
    auto tap = open_from("mode=tap,ifname=skt0,mtu=4000");
    CHECK(REQUIRE_OK(net::interface_mtu("skt0")) == 4000);
}

TEST_CASE("bridge= adds the tap to an existing bridge", "[interface][bridge]") {
    fresh_namespace();
    REQUIRE(create_bridge("skbr0") == "");
    auto bridge = REQUIRE_OK(net::query_link("skbr0"));
    CHECK(bridge.kind == "bridge");

    auto tap = open_from("mode=tap,ifname=skt0,bridge=skbr0");
    auto port = REQUIRE_OK(net::query_link("skt0"));
    REQUIRE(port.master_index.has_value());
    CHECK(*port.master_index == bridge.index);
    CHECK(REQUIRE_OK(net::is_link_up("skt0")));

    // Again: nothing to do.
    REQUIRE_OK(net::add_to_bridge("skbr0", "skt0"));
    // Another bridge: refused, naming the current one.
    REQUIRE(create_bridge("skbr1") == "");
    auto other = net::add_to_bridge("skbr1", "skt0");
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().message ==
          "interface 'skt0' is already a port of 'skbr0', not of bridge 'skbr1': detach it (ip link set skt0 "
          "nomaster) or use bridge=skbr0");
}

TEST_CASE("bridge= errors: missing bridge, not a bridge", "[interface][bridge]") {
    fresh_namespace();
    CHECK(open_error_from("mode=tap,ifname=skt0,bridge=br9") ==
          "bridge 'br9' does not exist: create it (ip link add br9 type bridge) or drop bridge=");
    // The tap skiff created for it is gone again.
    CHECK_FALSE(net::interface_exists("skt0"));

    CHECK(open_error_from("mode=tap,ifname=skt0,bridge=lo") ==
          "'lo' is not a bridge (it is a network device): name a bridge (ip link show type bridge) or drop bridge=");
    auto other_tap = open_from("mode=tap,ifname=skt1");
    CHECK(open_error_from("mode=tap,ifname=skt0,bridge=skt1") ==
          "'skt1' is not a bridge (it is a tun interface): name a bridge (ip link show type bridge) or drop "
          "bridge=");
    auto missing_port = net::add_to_bridge("skt1", "nosuch0");
    REQUIRE_FALSE(missing_port.ok());
}

TEST_CASE("fd= through open_tap", "[interface][fd]") {
    fresh_namespace();
    std::string error;
    auto fd = attach_tun("skfd0", IFF_TAP | IFF_NO_PI | IFF_VNET_HDR, error);
    REQUIRE(fd.valid());
    auto tap = open_from("mode=tap,fd=" + std::to_string(fd.release()) + ",mtu=1400");
    CHECK(tap->name() == "skfd0");
    CHECK(REQUIRE_OK(net::interface_mtu("skfd0")) == 1400);
    CHECK(REQUIRE_OK(net::is_link_up("skfd0")));
}

TEST_CASE("netlink_query: the kernel's RTM_NEWLINK for a link, and its errno for a missing one", "[interface][netlink]") {
    fresh_namespace();
    auto tap = open_from("mode=tap,ifname=skt0");
    auto link = REQUIRE_OK(net::query_link("skt0"));

    net::NetlinkMessage request(RTM_GETLINK, 0);
    ifinfomsg info{};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = static_cast<int>(link.index);
    request.append_header(info);
    request.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS);
    auto answer = REQUIRE_OK(net::netlink_query(request));
    CHECK(answer.error == 0);
    CHECK(answer.type == RTM_NEWLINK);
    REQUIRE(answer.payload.size() >= sizeof(ifinfomsg));
    ifinfomsg reply{};
    std::memcpy(&reply, answer.payload.data(), sizeof(reply));
    CHECK(reply.ifi_index == static_cast<int>(link.index));
    std::string name;
    net::for_each_netlink_attribute(net::netlink_attributes_after<ifinfomsg>(answer.payload),
                                    [&](unsigned type, auto payload) {
                                        if (type == IFLA_IFNAME) {
                                            name.assign(payload.begin(), payload.end());
                                            name.resize(::strnlen(name.c_str(), name.size()));
                                        }
                                    });
    CHECK(name == "skt0");

    info.ifi_index = 999999;
    net::NetlinkMessage missing(RTM_GETLINK, 0);
    missing.append_header(info);
    auto none = REQUIRE_OK(net::netlink_query(missing));
    CHECK(none.error == ENODEV);
    CHECK(none.type == 0);
    CHECK(none.payload.empty());
}

TEST_CASE("a VF MAC on a link without VFs: nothing to read, the kernel's refusal in one line", "[interface][vfio]") {
    fresh_namespace();
    auto tap = open_from("mode=tap,ifname=skt0");
    auto index = REQUIRE_OK(net::query_link("skt0")).index;
    auto host = vfio::make_system_vfio_host();
    // The real kernel answers the VF-information request; a tap has no VFs.
    auto answer = REQUIRE_OK(host->netlink(vfio::vf_info_request(index)));
    CHECK(answer.error == 0);
    CHECK(answer.type == RTM_NEWLINK);
    CHECK_FALSE(vfio::find_vf_mac(answer.payload, 0).has_value());

    auto mac = REQUIRE_OK(net::MacAddress::parse("02:00:00:00:00:02"));
    auto assigned = vfio::VfMacAssignment::assign(host, "skt0", 0, mac);
    REQUIRE_FALSE(assigned.ok());
    CHECK_THAT(assigned.error().message,
               Catch::StartsWith("setting the MAC of VF 0 of skt0 to 02:00:00:00:00:02: ") &&
                   Catch::EndsWith("(the PF's driver must allow it; skiff needs CAP_NET_ADMIN)"));
    INFO(assigned.error().message);
    CHECK(REQUIRE_OK(net::interface_mac("skt0")) != mac);  // the link itself is untouched
}
