#include "net/interface.h"
#include "net/mac_address.h"
#include "net/net_config.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

using skiff::net::MacAddress;
using skiff::net::NetConfig;
using skiff::net::NetMode;
using skiff::net::NetTransport;
using skiff::net::parse_net_config;

namespace {

// The error message of a value that must not parse.
std::string error_of(const std::string& text) {
    auto parsed = parse_net_config(text);
    REQUIRE_FALSE(parsed.ok());
    return parsed.error().message;
}

}  // namespace

TEST_CASE("MAC addresses parse and print", "[net][mac]") {
    auto mac = MacAddress::parse("02:1A:2b:3c:4D:ff");
    REQUIRE(mac.ok());
    CHECK(mac->bytes == std::array<uint8_t, 6>{0x02, 0x1a, 0x2b, 0x3c, 0x4d, 0xff});
    CHECK(mac->to_string() == "02:1a:2b:3c:4d:ff");
    CHECK(mac->is_locally_administered());
    CHECK_FALSE(mac->is_multicast());
    CHECK(MacAddress::parse("ff:ff:ff:ff:ff:ff")->is_multicast());
    CHECK(MacAddress::parse("01:00:5e:00:00:01")->is_multicast());
    CHECK(MacAddress::parse("00:00:00:00:00:00")->is_zero());
    CHECK_FALSE(MacAddress::parse("00:16:3e:12:34:56")->is_locally_administered());
    CHECK(MacAddress::parse("52:54:00:12:34:56")->is_locally_administered());  // QEMU's prefix

    for (const char* bad : {"", "02:1a:2b:3c:4d", "02:1a:2b:3c:4d:5e:6f", "2:1a:2b:3c:4d:5e", "02-1a-2b-3c-4d-5e",
                            "021a2b3c4d5e", "02:1a:2b:3c:4d:5g", "02:1a:2b:3c:4d:5e ", " 02:1a:2b:3c:4d:5e",
                            "02:1a:2b:3c:4d::5", "0x:1a:2b:3c:4d:5e"}) {
        INFO(bad);
        auto parsed = MacAddress::parse(bad);
        REQUIRE_FALSE(parsed.ok());
        CHECK_THAT(parsed.error().message, Catch::Contains("six hex pairs"));
    }
}

TEST_CASE("default MAC addresses are local unicast, stable per instance and index", "[net][mac]") {
    auto first = skiff::net::default_mac_address("vm-1234", 0);
    CHECK(first.is_locally_administered());
    CHECK_FALSE(first.is_multicast());
    CHECK(first.bytes[0] == 0x02);
    CHECK(first == skiff::net::default_mac_address("vm-1234", 0));
    auto second_interface = skiff::net::default_mac_address("vm-1234", 1);
    CHECK(second_interface != first);
    CHECK(second_interface.bytes[5] == 1);
    CHECK(skiff::net::default_mac_address("vm-1235", 0) != first);
}

TEST_CASE("a full net option value for a tap", "[net][net_config]") {
    auto parsed = parse_net_config("mode=tap,ifname=tap0,bridge=br0,mac=02:00:00:aa:bb:cc,mtu=9000,transport=pci");
    REQUIRE(parsed.ok());
    const NetConfig& config = *parsed;
    CHECK(config.mode == NetMode::Tap);
    CHECK(config.ifname == "tap0");
    REQUIRE(config.bridge.has_value());
    CHECK(*config.bridge == "br0");
    CHECK_FALSE(config.fd.has_value());
    REQUIRE(config.mac.has_value());
    CHECK(config.mac->to_string() == "02:00:00:aa:bb:cc");
    REQUIRE(config.mtu.has_value());
    CHECK(*config.mtu == 9000);
    CHECK(config.transport == NetTransport::Pci);
}

TEST_CASE("net option defaults and key order", "[net][net_config]") {
    auto parsed = parse_net_config("ifname=tap1,mode=tap");
    REQUIRE(parsed.ok());
    CHECK(parsed->ifname == "tap1");
    CHECK_FALSE(parsed->bridge.has_value());
    CHECK_FALSE(parsed->fd.has_value());
    CHECK_FALSE(parsed->mac.has_value());
    CHECK_FALSE(parsed->mtu.has_value());
    CHECK(parsed->transport == NetTransport::Mmio);

    auto by_fd = parse_net_config("mode=tap,fd=3");
    REQUIRE(by_fd.ok());
    REQUIRE(by_fd->fd.has_value());
    CHECK(*by_fd->fd == 3);
    CHECK(by_fd->ifname.empty());

    auto fd_and_name = parse_net_config("mode=tap,fd=17,ifname=tap7,transport=mmio");
    REQUIRE(fd_and_name.ok());
    CHECK(*fd_and_name->fd == 17);
    CHECK(fd_and_name->ifname == "tap7");

    CHECK(*parse_net_config("mode=tap,ifname=t,mtu=68")->mtu == 68);
    CHECK(*parse_net_config("mode=tap,ifname=t,mtu=65521")->mtu == 65521);  // a tap's limit
    CHECK(*parse_net_config("mode=macvtap,link=eth1,mtu=65535")->mtu == 65535);
    CHECK(parse_net_config("mode=tap,ifname=abcdefghijklmno")->ifname == "abcdefghijklmno");  // 15: the limit
}

TEST_CASE("net option errors name the key and the problem", "[net][net_config]") {
    struct Case {
        std::string text;
        std::vector<std::string> expected;  // substrings of the message
    };
    const std::vector<Case> cases = {
        {"", {"empty value", "tap"}},
        {"ifname=tap0", {"mode= is missing", "valid modes: tap"}},
        {"mode=vhostuser,ifname=tap0", {"unknown mode 'vhostuser'", "valid modes: tap, vhost, macvtap, vfio"}},
        {"mode=TAP,ifname=tap0", {"unknown mode 'TAP'"}},
        {"mode=tap,ifnmae=tap0", {"unknown key 'ifnmae'", "ifname, fd, bridge, mac, mtu, transport"}},
        {"mode=tap,ifname=tap0,ifname=tap1", {"ifname= is given twice"}},
        {"mode=tap,mode=tap,ifname=tap0", {"mode= is given twice"}},
        {"mode=tap,ifname=tap0,,mtu=1500", {"empty item"}},
        {"mode=tap,ifname=tap0,", {"empty item"}},
        {",mode=tap,ifname=tap0", {"empty item"}},
        {"mode=tap,tap0", {"'tap0' is not key=value"}},
        {"mode=tap,=tap0", {"no key"}},
        {"mode=tap,ifname=", {"ifname= needs a value"}},
        {"mode=tap", {"needs ifname=NAME", "fd=N"}},
        {"mode=tap,bridge=br0", {"needs ifname=NAME"}},
        {"mode=tap,ifname=abcdefghijklmnop", {"16 characters", "at most 15"}},
        {"mode=tap,ifname=tap/0", {"contains '/'"}},
        {"mode=tap,ifname=tap%d", {"contains '%'"}},
        {"mode=tap,ifname=tap 0", {"contains ' '"}},
        {"mode=tap,ifname=..", {"not a valid interface name"}},
        {"mode=tap,ifname=tap0,bridge=b:r", {"bridge", "contains ':'"}},
        {"mode=tap,fd=abc", {"fd=abc", "file descriptor number"}},
        {"mode=tap,fd=-3", {"fd=-3", "file descriptor number"}},
        {"mode=tap,fd=3x", {"fd=3x"}},
        {"mode=tap,fd= 3", {"fd= 3"}},
        {"mode=tap,fd=99999999999", {"fd=99999999999"}},
        {"mode=tap,fd=1", {"standard input, output or error", "fd 3 or above"}},
        {"mode=tap,fd=0", {"standard input"}},
        {"mode=tap,fd=3,bridge=br0", {"bridge= does not go with fd="}},
        {"mode=tap,ifname=tap0,mac=01:00:5e:00:00:01", {"multicast", "unicast"}},
        {"mode=tap,ifname=tap0,mac=ff:ff:ff:ff:ff:ff", {"multicast"}},
        {"mode=tap,ifname=tap0,mac=00:00:00:00:00:00", {"not a valid interface address"}},
        {"mode=tap,ifname=tap0,mac=02:00:00:00:00", {"mac=", "six hex pairs"}},
        {"mode=tap,ifname=tap0,mac=02-00-00-00-00-01", {"six hex pairs"}},
        {"mode=tap,ifname=tap0,mtu=67", {"mtu=67", "68 to 65521"}},
        {"mode=tap,ifname=tap0,mtu=65522", {"mtu=65522", "68 to 65521", "a tap's limits"}},
        {"mode=vhost,ifname=tap0,mtu=65535", {"mtu=65535", "68 to 65521"}},
        {"mode=macvtap,link=eth1,mtu=65536", {"mtu=65536", "68 to 65535", "a macvtap's limits"}},
        {"mode=tap,ifname=tap0,mtu=0x5dc", {"mtu=0x5dc"}},
        {"mode=tap,ifname=tap0,mtu=01500", {"mtu=01500"}},
        {"mode=tap,fd=010", {"fd=010"}},
        {"mode=tap,ifname=tap0,tx-ops=0x10:100", {"tx-ops=0x10:100", "whole number"}},
        {"mode=tap,ifname=tap0,tx-ops=10:0100", {"REFILL_MS"}},
        {"mode=vfio,pf=eth1,vf=+1", {"vf=+1"}},
        {"mode=tap,ifname=tap0,mtu=0", {"mtu=0"}},
        {"mode=tap,ifname=tap0,mtu=1500.5", {"mtu=1500.5"}},
        {"mode=tap,ifname=tap0,mtu=+1500", {"mtu=+1500"}},
        {"mode=tap,ifname=tap0,transport=virtio", {"transport=virtio", "mmio or pci"}},
    };
    for (const auto& test : cases) {
        INFO("--net " << test.text);
        auto message = error_of(test.text);
        INFO("error: " << message);
        CHECK_THAT(message, Catch::StartsWith("--net: ") || Catch::Contains("--net: "));
        for (const auto& expected : test.expected) {
            CHECK_THAT(message, Catch::Contains(expected));
        }
    }
}

TEST_CASE("net option help lists the modes and keys", "[net][net_config]") {
    auto help = skiff::net::net_config_help();
    CHECK_THAT(help, Catch::Contains("tap "));
    for (const char* key : {"ifname", "fd", "bridge", "mac", "mtu", "transport"}) {
        INFO(key);
        CHECK_THAT(help, Catch::Contains(std::string("    ") + key));
    }
    CHECK(skiff::net::net_mode_name(NetMode::Tap) == "tap");
    CHECK(skiff::net::net_transport_name(NetTransport::Pci) == "pci");
    CHECK(skiff::net::net_transport_name(NetTransport::Mmio) == "mmio");
}

TEST_CASE("interface names follow the kernel's rules", "[net][interface]") {
    using skiff::net::check_interface_name;
    CHECK(check_interface_name("tap0").ok());
    CHECK(check_interface_name("br-lan.10_x").ok());
    CHECK(check_interface_name("123456789012345").ok());
    CHECK_FALSE(check_interface_name("").ok());
    CHECK_FALSE(check_interface_name("1234567890123456").ok());
    CHECK_FALSE(check_interface_name(".").ok());
    CHECK_FALSE(check_interface_name("a\tb").ok());
    CHECK_FALSE(check_interface_name(std::string("a\0b", 3)).ok());
    CHECK_FALSE(check_interface_name("a=b").ok());
    CHECK_FALSE(check_interface_name("a,b").ok());
}

TEST_CASE("net option values for vhost, macvtap and vfio", "[net][net_config]") {
    auto vhost = parse_net_config("mode=vhost,ifname=tap0,transport=pci");
    REQUIRE(vhost.ok());
    CHECK(vhost->mode == NetMode::Vhost);
    CHECK(skiff::net::uses_vhost(*vhost));
    CHECK(vhost->transport == NetTransport::Pci);

    auto macvtap = parse_net_config("mode=macvtap,link=veth0,macvtap-mode=vepa,vhost=on,mac=02:00:00:00:00:07");
    REQUIRE(macvtap.ok());
    CHECK(macvtap->mode == NetMode::Macvtap);
    CHECK(macvtap->link == "veth0");
    CHECK(macvtap->ifname.empty());
    CHECK(macvtap->macvtap_mode == skiff::net::MacvtapMode::Vepa);
    CHECK(skiff::net::uses_vhost(*macvtap));
    auto named = parse_net_config("mode=macvtap,name=mvt3");
    REQUIRE(named.ok());
    CHECK(named->ifname == "mvt3");
    CHECK_FALSE(skiff::net::uses_vhost(*named));
    CHECK(named->macvtap_mode == skiff::net::MacvtapMode::Bridge);

    auto by_address = parse_net_config("mode=vfio,device=03:10.2");
    REQUIRE(by_address.ok());
    CHECK(by_address->device == "0000:03:10.2");
    CHECK(by_address->transport == NetTransport::Pci);
    CHECK_FALSE(skiff::net::is_virtio_mode(by_address->mode));
    auto upper = parse_net_config("mode=vfio,device=0000:0A:1F.7");
    REQUIRE(upper.ok());
    CHECK(upper->device == "0000:0a:1f.7");
    auto by_pf = parse_net_config("mode=vfio,pf=enp3s0f0,vf=2,mac=02:00:00:00:00:09");
    REQUIRE(by_pf.ok());
    CHECK(by_pf->pf == "enp3s0f0");
    CHECK(by_pf->vf == 2u);
    CHECK(by_pf->mac.has_value());
}

TEST_CASE("bad values and combinations for vhost, macvtap and vfio name the problem", "[net][net_config]") {
    CHECK_THAT(error_of("mode=vhost"), Catch::Contains("mode=vhost needs ifname=NAME"));
    CHECK_THAT(error_of("mode=macvtap"), Catch::Contains("needs link=IF"));
    CHECK_THAT(error_of("mode=macvtap,link=eth1,macvtap-mode=hub"), Catch::Contains("bridge, vepa, private or passthru"));
    CHECK_THAT(error_of("mode=macvtap,link=eth1,vhost=yes"), Catch::Contains("vhost=yes: expected on or off"));
    CHECK_THAT(error_of("mode=macvtap,link=eth1,bridge=br0"), Catch::Contains("unknown key 'bridge'"));
    CHECK_THAT(error_of("mode=macvtap,link=a/b"), Catch::Contains("link"));
    CHECK_THAT(error_of("mode=tap,ifname=tap0,link=eth0"), Catch::Contains("unknown key 'link'"));
    CHECK_THAT(error_of("mode=vfio"), Catch::Contains("needs device=DDDD:BB:DD.F or pf=IF,vf=N"));
    CHECK_THAT(error_of("mode=vfio,pf=eth1"), Catch::Contains("pf= needs vf=N"));
    CHECK_THAT(error_of("mode=vfio,vf=1"), Catch::Contains("vf= needs pf=IF"));
    CHECK_THAT(error_of("mode=vfio,device=0000:03:10.2,pf=eth1,vf=0"), Catch::Contains("not both"));
    CHECK_THAT(error_of("mode=vfio,pf=eth1,vf=-1"), Catch::Contains("vf=-1"));
    CHECK_THAT(error_of("mode=vfio,device=0000:03:10.2,transport=mmio"), Catch::Contains("unknown key 'transport'"));
    CHECK_THAT(error_of("mode=vfio,device=0000:03:10.2,mtu=1500"), Catch::Contains("unknown key 'mtu'"));
    for (const char* bad : {"0000:03:10", "0000:03:10.8", "0000:03:20.0", "000:03:10.2", "0000:g3:10.2",
                            "0000-03-10.2", "0000:03:10.2x"}) {
        INFO(bad);
        CHECK_THAT(error_of(std::string("mode=vfio,device=") + bad), Catch::Contains("expected a PCI address"));
    }
}

TEST_CASE("rate limiter keys set token buckets per direction", "[net][net_config][rate_limit]") {
    auto config = parse_net_config("mode=tap,ifname=tap0,tx-bandwidth=1250000:100,tx-ops=1000:1000:500,"
                                   "rx-bandwidth=1:1");
    REQUIRE(config.ok());
    REQUIRE(config->tx_rate_limiter.bandwidth);
    CHECK(config->tx_rate_limiter.bandwidth->size == 1250000);
    CHECK(config->tx_rate_limiter.bandwidth->refill_time_ms == 100);
    CHECK(config->tx_rate_limiter.bandwidth->one_time_burst == 0);
    REQUIRE(config->tx_rate_limiter.ops);
    CHECK(config->tx_rate_limiter.ops->size == 1000);
    CHECK(config->tx_rate_limiter.ops->refill_time_ms == 1000);
    CHECK(config->tx_rate_limiter.ops->one_time_burst == 500);
    REQUIRE(config->rx_rate_limiter.bandwidth);
    CHECK(config->rx_rate_limiter.bandwidth->size == 1);
    CHECK_FALSE(config->rx_rate_limiter.ops);
    CHECK(skiff::net::limits_rate(config->rx_rate_limiter));

    auto unlimited = parse_net_config("mode=tap,ifname=tap0");
    CHECK_FALSE(skiff::net::limits_rate(unlimited->rx_rate_limiter));
    CHECK_FALSE(skiff::net::limits_rate(unlimited->tx_rate_limiter));

    auto macvtap = parse_net_config("mode=macvtap,link=eth1,rx-ops=100:10,vhost=off");
    REQUIRE(macvtap.ok());
    CHECK(macvtap->rx_rate_limiter.ops->size == 100);
    CHECK(parse_net_config("mode=tap,ifname=t,tx-bandwidth=18446744073709551615:1000000000000:18446744073709551615")
              .ok());
}

TEST_CASE("bad rate limiter values and modes name the problem", "[net][net_config][rate_limit]") {
    struct Case {
        std::string text;
        std::vector<std::string> expected;
    };
    const std::vector<Case> cases = {
        {"mode=tap,ifname=t,tx-bandwidth=1000", {"tx-bandwidth=1000", "two or three numbers", "BYTES:REFILL_MS"}},
        {"mode=tap,ifname=t,tx-bandwidth=1:2:3:4", {"two or three numbers"}},
        {"mode=tap,ifname=t,tx-bandwidth=0:100", {"BYTES must be a whole number from 1"}},
        {"mode=tap,ifname=t,rx-ops=0:100", {"rx-ops=0:100", "FRAMES must be", "FRAMES:REFILL_MS"}},
        {"mode=tap,ifname=t,tx-bandwidth=1000:0", {"REFILL_MS must be", "from 1 to"}},
        {"mode=tap,ifname=t,tx-bandwidth=1000:1000000000001", {"REFILL_MS"}},
        {"mode=tap,ifname=t,tx-bandwidth=1000:", {"REFILL_MS"}},
        {"mode=tap,ifname=t,tx-bandwidth=:100", {"BYTES must be"}},
        {"mode=tap,ifname=t,tx-bandwidth=1M:100", {"BYTES must be"}},
        {"mode=tap,ifname=t,tx-bandwidth=-1:100", {"BYTES must be"}},
        {"mode=tap,ifname=t,tx-bandwidth=18446744073709551616:100", {"BYTES must be"}},
        {"mode=tap,ifname=t,tx-ops=10:10:x", {"BURST must be a whole number"}},
        {"mode=tap,ifname=t,tx-bandwidth=1000/100", {"two or three numbers"}},
        {"mode=tap,ifname=t,tx-rate=1000:100", {"unknown key 'tx-rate'", "rx-bandwidth, rx-ops, tx-bandwidth, tx-ops"}},
        {"mode=vhost,ifname=t,tx-bandwidth=1000:100", {"unknown key 'tx-bandwidth'"}},
        {"mode=vfio,device=0000:03:10.2,rx-ops=1:1", {"unknown key 'rx-ops'"}},
        {"mode=macvtap,link=eth1,vhost=on,tx-ops=1:1", {"rate limiters need skiff's own data path", "vhost=on"}},
    };
    for (const auto& test : cases) {
        INFO("--net " << test.text);
        auto message = error_of(test.text);
        INFO("error: " << message);
        CHECK_THAT(message, Catch::StartsWith("--net: "));
        for (const auto& expected : test.expected) {
            CHECK_THAT(message, Catch::Contains(expected));
        }
    }
    // The API's and the config file's items: the same check, their context.
    auto from_items = skiff::net::net_config_from_items(
        {{"mode", "macvtap"}, {"link", "eth1"}, {"vhost", "on"}, {"tx-ops", "1:1"}}, "network interface eth0");
    REQUIRE_FALSE(from_items.ok());
    CHECK_THAT(from_items.error().message, Catch::StartsWith("network interface eth0: rate limiters need"));
}

TEST_CASE("net option help lists the rate limiter keys", "[net][net_config][rate_limit]") {
    auto help = skiff::net::net_config_help();
    for (const char* key : {"rx-bandwidth", "rx-ops", "tx-bandwidth", "tx-ops"}) {
        INFO(key);
        CHECK_THAT(help, Catch::Contains(std::string("    ") + key));
    }
    CHECK_THAT(help, Catch::Contains("tx-bandwidth=1250000:100"));
}
