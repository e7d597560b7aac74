#include "net/net_config.h"
#include "vmm/network_set.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

std::vector<skiff::net::NetConfig> configs(const std::vector<std::string>& texts) {
    std::vector<skiff::net::NetConfig> set;
    for (const auto& text : texts) {
        auto parsed = skiff::net::parse_net_config(text);
        REQUIRE(parsed.ok());
        set.push_back(*parsed);
    }
    return set;
}

std::string error_of(const std::vector<std::string>& texts) {
    auto checked = skiff::check_network_set(configs(texts));
    return checked.ok() ? "" : checked.error().message;
}

}  // namespace

TEST_CASE("interfaces that share nothing pass", "[network_set]") {
    CHECK(error_of({}).empty());
    CHECK(error_of({"mode=tap,ifname=tap0", "mode=tap,ifname=tap1", "mode=tap,fd=5", "mode=tap,fd=6",
                    "mode=macvtap,link=eth1", "mode=macvtap,link=eth1", "mode=vfio,pf=eth2,vf=0",
                    "mode=vfio,pf=eth2,vf=1"})
              .empty());
}

TEST_CASE("two interfaces on one host resource are refused, naming both", "[network_set]") {
    struct Case {
        std::vector<std::string> set;
        std::string expected;
    };
    const std::vector<Case> cases = {
        {{"mode=tap,fd=5", "mode=tap,fd=5"}, "net0 and net1 both use fd 5: give each interface its own open tap"},
        {{"mode=tap,ifname=tap0", "mode=tap,ifname=tap1", "mode=vhost,ifname=tap0"},
         "net0 and net2 both use the host interface 'tap0': give each interface its own tap or macvtap"},
        {{"mode=macvtap,link=eth1,name=mvt0", "mode=macvtap,link=eth2,name=mvt0"},
         "net0 and net1 both use the host interface 'mvt0'"},
        {{"mode=tap,ifname=x0", "mode=macvtap,name=x0"}, "net0 and net1 both use the host interface 'x0'"},
        {{"mode=tap,ifname=tap0,mac=02:00:00:00:00:01", "mode=tap,ifname=tap1,mac=02:00:00:00:00:01"},
         "net0 and net1 both use the guest MAC 02:00:00:00:00:01: give each interface its own"},
        {{"mode=vfio,device=0000:03:10.2", "mode=vfio,device=03:10.2"},
         "net0 and net1 both use the PCI function 0000:03:10.2"},
        {{"mode=vfio,pf=eth1,vf=0", "mode=vfio,pf=eth1,vf=0"}, "net0 and net1 both use VF 0 of eth1"},
        {{"mode=macvtap,link=eth1", "mode=macvtap,link=eth1,macvtap-mode=passthru"},
         "net0 and net1 both use the link eth1 for a macvtap: macvtap-mode passthru"},
    };
    for (const auto& test : cases) {
        auto message = error_of(test.set);
        INFO(message);
        CHECK_THAT(message, Catch::StartsWith(test.expected));
    }
}

TEST_CASE("ids of a set are unique", "[network_set]") {
    auto set = configs({"mode=tap,ifname=tap0", "mode=tap,ifname=tap1"});
    set[0].id = "eth0";
    set[1].id = "eth0";
    auto checked = skiff::check_network_set(set);
    REQUIRE_FALSE(checked.ok());
    CHECK_THAT(checked.error().message, Catch::StartsWith("interface 1 and interface 2 both use the id 'eth0'"));
    CHECK(skiff::network_label(set[0], 0) == "eth0");
}

TEST_CASE("no more interfaces than a transport has room for", "[network_set]") {
    std::vector<std::string> mmio;
    for (int i = 0; i < 16; ++i) {
        mmio.push_back("mode=tap,ifname=tap" + std::to_string(i));
    }
    CHECK(error_of(mmio).empty());
    mmio.push_back("mode=tap,ifname=tap16");
    CHECK(error_of(mmio) == "17 interfaces are on virtio-mmio, which has room for 16: put the others on PCI "
                            "(transport pci)");
    mmio.back() += ",transport=pci";
    CHECK(error_of(mmio).empty());

    std::vector<std::string> pci;
    for (int i = 0; i < 31; ++i) {
        pci.push_back("mode=vfio,pf=eth1,vf=" + std::to_string(i));
    }
    CHECK(error_of(pci).empty());
    pci.push_back("mode=tap,ifname=tap0,transport=pci");
    CHECK_THAT(error_of(pci), Catch::StartsWith("32 interfaces are on PCI"));
}
