#include "devices/vfio/sysfs_binding.h"
#include "devices/vfio/vfio_device.h"
#include "fake_vfio_host.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string_view>

using namespace skiff;
using namespace skiff::vfio;
using skiff::test::FakeVfioHost;

namespace {

std::shared_ptr<FakeVfioHost> standard() {
    auto host = std::make_shared<FakeVfioHost>();
    host->standard_host();
    return host;
}

}  // namespace

TEST_CASE("pf and vf resolve to the virtual function's PCI address through sysfs", "[vfio]") {
    auto host = standard();
    CHECK(*resolve_virtual_function(*host, "eth1", 0) == test::kVfAddress);
    CHECK(*resolve_virtual_function(*host, "eth1", 1) == test::kSiblingAddress);
    auto found = find_physical_function(*host, test::kSiblingAddress);
    REQUIRE(found.ok());
    CHECK(found->first == "eth1");
    CHECK(found->second == 1);
}

TEST_CASE("pf and vf errors name the cause and the fix in one line", "[vfio]") {
    auto host = standard();
    auto missing = resolve_virtual_function(*host, "nosuch0", 0);
    REQUIRE(!missing.ok());
    CHECK_THAT(missing.error().message, Catch::StartsWith("pf 'nosuch0' not found"));
    CHECK_THAT(missing.error().message, Catch::Contains("network namespace"));

    auto beyond = resolve_virtual_function(*host, "eth1", 3);
    REQUIRE(!beyond.ok());
    CHECK(beyond.error().message ==
          "pf 'eth1' has no VF 3 (it has 2): raise /sys/class/net/eth1/device/sriov_numvfs");

    host->write_text("sys/class/net/lo/address", "00:00:00:00:00:00\n");
    auto not_sriov = resolve_virtual_function(*host, "lo", 0);
    REQUIRE(!not_sriov.ok());
    CHECK_THAT(not_sriov.error().message, Catch::StartsWith("pf 'lo' is not an SR-IOV physical function"));

    auto absent = check_pci_device(*host, "0000:00:1f.7");
    REQUIRE(!absent.ok());
    CHECK_THAT(absent.error().message, Catch::StartsWith("PCI device 0000:00:1f.7 not found"));

    host->add_function("0000:05:00.0", "e1000e", std::nullopt);
    auto no_group = iommu_group_of(*host, "0000:05:00.0");
    REQUIRE(!no_group.ok());
    CHECK(no_group.error().message ==
          "no IOMMU group for 0000:05:00.0: enable VT-d/IOMMU in the firmware and the kernel command line "
          "(intel_iommu=on or amd_iommu=on)");
    CHECK(*iommu_group_of(*host, test::kVfAddress) == test::kVfGroup);
    for (const std::string& message : {missing.error().message, beyond.error().message, absent.error().message}) {
        CHECK(message.find('\n') == std::string::npos);
    }
}

TEST_CASE("a group with a function bound elsewhere is not viable, and the error names it", "[vfio]") {
    auto host = standard();
    host->add_function("0000:03:10.4", "ixgbevf", test::kVfGroup);  // shares the VF's group
    host->add_function("0000:03:10.5", std::nullopt, test::kVfGroup);  // unbound: fine
    auto viable = check_group_viable(*host, test::kVfGroup, test::kVfAddress);
    REQUIRE(!viable.ok());
    CHECK_THAT(viable.error().message,
               Catch::StartsWith("IOMMU group 12 is not viable: all its devices must be bound to vfio-pci (also "
                                 "0000:03:10.2 (ixgbevf), 0000:03:10.4 (ixgbevf))"));
}

TEST_CASE("binding goes driver_override, unbind, drivers_probe, and destruction gives the function back", "[vfio]") {
    auto host = standard();
    {
        auto binding = DriverBinding::bind_to_vfio_pci(host, test::kVfAddress);
        REQUIRE(binding.ok());
        CHECK(binding->original_driver() == "ixgbevf");
        CHECK(host->driver_of(test::kVfAddress) == "vfio-pci");
        CHECK(host->exists("dev/vfio/12"));
        CHECK(host->sysfs_log == std::vector<std::string>{
                                     "sys/bus/pci/devices/0000:03:10.2/driver_override=vfio-pci",
                                     "sys/bus/pci/devices/0000:03:10.2/driver/unbind=0000:03:10.2",
                                     "sys/bus/pci/drivers_probe=0000:03:10.2",
                                 });
        host->sysfs_log.clear();
    }
    CHECK(host->sysfs_log == std::vector<std::string>{
                                 "sys/bus/pci/devices/0000:03:10.2/driver/unbind=0000:03:10.2",
                                 "sys/bus/pci/devices/0000:03:10.2/driver_override=",
                                 "sys/bus/pci/drivers_probe=0000:03:10.2",
                             });
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
    CHECK(host->override_of(test::kVfAddress) == "(null)");
}

TEST_CASE("a function already on vfio-pci is used as it is and left so", "[vfio]") {
    auto host = standard();
    host->bind_link(test::kVfAddress, "vfio-pci");
    {
        auto binding = DriverBinding::bind_to_vfio_pci(host, test::kVfAddress);
        REQUIRE(binding.ok());
        CHECK(!binding->changed());
    }
    CHECK(host->sysfs_log.empty());
    CHECK(host->driver_of(test::kVfAddress) == "vfio-pci");
}

TEST_CASE("when vfio-pci does not take the function, it goes back to its driver", "[vfio]") {
    auto host = standard();
    host->vfio_pci_available = false;
    auto binding = DriverBinding::bind_to_vfio_pci(host, test::kVfAddress);
    REQUIRE(!binding.ok());
    CHECK(binding.error().message == "0000:03:10.2 did not bind to vfio-pci: modprobe vfio-pci");
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
    CHECK(host->override_of(test::kVfAddress) == "(null)");
}

TEST_CASE("a failure after binding (no device fd) gives the function back, fds closed first", "[vfio]") {
    auto host = standard();
    host->fail_get_device_fd = true;
    auto device = open_passthrough(host, PassthroughRequest{.address = "", .pf = "eth1", .vf = 0, .mac = {}});
    REQUIRE(!device.ok());
    CHECK_THAT(device.error().message, Catch::Contains("VFIO_GROUP_GET_DEVICE_FD"));
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
    CHECK(host->override_of(test::kVfAddress) == "(null)");
    CHECK(!host->unbound_while_open);
}

TEST_CASE("open_passthrough refuses a host without /dev/vfio/vfio before touching the function", "[vfio]") {
    auto host = standard();
    std::filesystem::remove(host->at("dev/vfio/vfio"));
    auto device = open_passthrough(host, PassthroughRequest{.address = test::kVfAddress, .pf = "", .vf = {}, .mac = {}});
    REQUIRE(!device.ok());
    CHECK(device.error().message == "/dev/vfio/vfio not found: modprobe vfio-pci");
    CHECK(host->sysfs_log.empty());
}

TEST_CASE("the VF MAC request is RTM_SETLINK on the PF with IFLA_VFINFO_LIST/IFLA_VF_INFO/IFLA_VF_MAC", "[vfio]") {
    auto mac = *net::MacAddress::parse("02:12:34:56:78:9a");
    auto message = vf_mac_request(7, 3, mac);
    auto raw = message.bytes();
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    nlmsghdr header;
    std::memcpy(&header, bytes.data(), sizeof(header));
    CHECK(header.nlmsg_type == RTM_SETLINK);
    CHECK(header.nlmsg_len == bytes.size());
    CHECK(header.nlmsg_flags == (NLM_F_REQUEST | NLM_F_ACK));
    ifinfomsg info;
    std::memcpy(&info, bytes.data() + NLMSG_HDRLEN, sizeof(info));
    CHECK(info.ifi_index == 7);

    int lists = 0;
    int entries = 0;
    std::optional<ifla_vf_mac> found;
    net::for_each_netlink_attribute(bytes.subspan(NLMSG_SPACE(sizeof(ifinfomsg))), [&](unsigned type, auto list) {
        CHECK(type == IFLA_VFINFO_LIST);
        ++lists;
        net::for_each_netlink_attribute(list, [&](unsigned entry_type, auto entry) {
            CHECK(entry_type == IFLA_VF_INFO);
            ++entries;
            net::for_each_netlink_attribute(entry, [&](unsigned field, auto payload) {
                CHECK(field == IFLA_VF_MAC);
                REQUIRE(payload.size() == sizeof(ifla_vf_mac));
                ifla_vf_mac value;
                std::memcpy(&value, payload.data(), sizeof(value));
                found = value;
            });
        });
    });
    CHECK(lists == 1);
    CHECK(entries == 1);
    REQUIRE(found);
    CHECK(found->vf == 3);
    CHECK(std::equal(mac.bytes.begin(), mac.bytes.end(), found->mac));
}

namespace {

net::MacAddress mac_of(std::string_view text) { return *net::MacAddress::parse(text); }

uint16_t message_type(const std::vector<uint8_t>& bytes) {
    nlmsghdr header;
    std::memcpy(&header, bytes.data(), sizeof(header));
    return header.nlmsg_type;
}

// Where `entry` first appears in the fake's log (its size when absent).
size_t log_position(const std::vector<std::string>& log, std::string_view entry) {
    return static_cast<size_t>(std::find(log.begin(), log.end(), entry) - log.begin());
}

}  // namespace

TEST_CASE("the VF info request is RTM_GETLINK on the PF asking for VF information without statistics", "[vfio]") {
    auto message = vf_info_request(7);
    auto raw = message.bytes();
    std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(raw.data()), raw.size());
    nlmsghdr header;
    std::memcpy(&header, bytes.data(), sizeof(header));
    CHECK(header.nlmsg_type == RTM_GETLINK);
    CHECK((header.nlmsg_flags & NLM_F_DUMP) == 0);
    ifinfomsg info;
    std::memcpy(&info, bytes.data() + NLMSG_HDRLEN, sizeof(info));
    CHECK(info.ifi_index == 7);
    std::optional<uint32_t> mask;
    net::for_each_netlink_attribute(bytes.subspan(NLMSG_SPACE(sizeof(ifinfomsg))), [&](unsigned type, auto payload) {
        if (type == IFLA_EXT_MASK && payload.size() == 4) {
            uint32_t value;
            std::memcpy(&value, payload.data(), sizeof(value));
            mask = value;
        }
    });
    CHECK(mask == (RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS));
}

TEST_CASE("find_vf_mac reads one VF's MAC from an RTM_NEWLINK and nothing from a malformed one", "[vfio]") {
    auto host = standard();
    host->vf_macs[2] = mac_of("02:00:00:00:00:22");
    host->vf_macs[5] = mac_of("02:00:00:00:00:55");
    auto answer = host->netlink(vf_info_request(7));
    REQUIRE(answer.ok());
    REQUIRE(answer->type == RTM_NEWLINK);
    const auto& payload = answer->payload;
    CHECK(find_vf_mac(payload, 0) == mac_of("52:54:00:aa:00:00"));
    CHECK(find_vf_mac(payload, 1) == mac_of("00:00:00:00:00:00"));
    CHECK(find_vf_mac(payload, 2) == mac_of("02:00:00:00:00:22"));
    CHECK(find_vf_mac(payload, 5) == mac_of("02:00:00:00:00:55"));
    CHECK_FALSE(find_vf_mac(payload, 3));
    // Every truncation: no crash, and no MAC made up from partial bytes.
    for (size_t length = 0; length < payload.size(); ++length) {
        auto found = find_vf_mac(std::span<const uint8_t>(payload.data(), length), 5);
        CHECK((!found || *found == mac_of("02:00:00:00:00:55")));
    }
    host->reports_vf_macs = false;
    auto silent = host->netlink(vf_info_request(7));
    REQUIRE(silent.ok());
    CHECK_FALSE(find_vf_mac(silent->payload, 0));
}

TEST_CASE("mac= is set through the PF before the VF is bound, by pf/vf or by address", "[vfio]") {
    auto mac = mac_of("02:00:00:00:00:02");
    for (bool by_address : {false, true}) {
        auto host = standard();
        PassthroughRequest request;
        if (by_address) {
            request.address = test::kSiblingAddress;
        } else {
            request.pf = "eth1";
            request.vf = 1;
        }
        request.mac = mac;
        host->fail_get_device_fd = true;  // fail after binding
        auto failed = open_passthrough(host, request);
        REQUIRE(!failed.ok());
        // Read the old MAC, set the new one, all before the first sysfs write.
        REQUIRE(host->netlink_requests.size() == 3);
        REQUIRE(host->sysfs_log.size() > 2);
        CHECK(host->sysfs_log[0] == "netlink get");
        CHECK(host->sysfs_log[1] == "netlink set");
        for (const auto& bytes : host->netlink_requests) {
            ifinfomsg info;
            std::memcpy(&info, bytes.data() + NLMSG_HDRLEN, sizeof(info));
            CHECK(info.ifi_index == 7);
        }
        // The set-up failed: the VF has its old MAC again and its driver back.
        CHECK(message_type(host->netlink_requests[2]) == RTM_SETLINK);
        CHECK(host->vf_macs[1] == mac_of("00:00:00:00:00:00"));
        CHECK(host->driver_of(test::kSiblingAddress) == "ixgbevf");
        CHECK(host->crash_requests.empty());
    }
    auto host = standard();
    host->netlink_answer = EPERM;
    auto refused = open_passthrough(host, PassthroughRequest{.address = "", .pf = "eth1", .vf = 0, .mac = mac});
    REQUIRE(!refused.ok());
    CHECK_THAT(refused.error().message, Catch::StartsWith("setting the MAC of VF 0 of eth1 to 02:00:00:00:00:02"));
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
    CHECK(host->crash_requests.empty());
}

TEST_CASE("the VF's old MAC goes back after its fds close and before its driver takes it back", "[vfio]") {
    auto host = standard();
    auto mac = mac_of("02:00:00:00:00:02");
    auto device = open_passthrough(host, PassthroughRequest{.address = "", .pf = "eth1", .vf = 0, .mac = mac});
    REQUIRE(device.ok());
    CHECK(host->vf_macs[0] == mac);
    // While it is set, the crash handler holds the request that undoes it.
    REQUIRE(host->crash_requests.size() == 1);
    auto undo_request = vf_mac_request(7, 0, mac_of("52:54:00:aa:00:00"));
    auto undo = undo_request.bytes();
    auto undo_bytes = reinterpret_cast<const uint8_t*>(undo.data());
    CHECK(host->crash_requests.begin()->second == std::vector<uint8_t>(undo_bytes, undo_bytes + undo.size()));
    host->sysfs_log.clear();
    device->reset();
    CHECK(host->vf_macs[0] == mac_of("52:54:00:aa:00:00"));
    CHECK(host->crash_requests.empty());
    size_t mac_back = log_position(host->sysfs_log, "netlink set");
    size_t driver_back = log_position(host->sysfs_log, "sys/bus/pci/drivers_probe=" + std::string(test::kVfAddress));
    CHECK(mac_back < host->sysfs_log.size());
    CHECK(driver_back < host->sysfs_log.size());
    CHECK(mac_back < driver_back);
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
}

TEST_CASE("take_vf_mac hands the restore to the caller: the device no longer does it", "[vfio]") {
    auto host = standard();
    auto mac = mac_of("02:00:00:00:00:02");
    auto device = open_passthrough(host, PassthroughRequest{.address = "", .pf = "eth1", .vf = 0, .mac = mac});
    REQUIRE(device.ok());
    VfMacAssignment taken = (*device)->take_vf_mac();
    CHECK(taken.pending());
    device->reset();
    CHECK(host->vf_macs[0] == mac);
    CHECK(host->crash_requests.size() == 1);
    taken.restore();
    CHECK_FALSE(taken.pending());
    CHECK(host->vf_macs[0] == mac_of("52:54:00:aa:00:00"));
    CHECK(host->crash_requests.empty());
    size_t requests = host->netlink_requests.size();
    taken.restore();  // idempotent
    CHECK(host->netlink_requests.size() == requests);
}

TEST_CASE("a VF MAC with nothing to give back: the same MAC, or an old one the driver does not report", "[vfio]") {
    auto host = standard();
    {
        auto same = VfMacAssignment::assign(host, "eth1", 0, mac_of("52:54:00:aa:00:00"));
        REQUIRE(same.ok());
        CHECK_FALSE(same->pending());
        CHECK(host->crash_requests.empty());
    }
    host->reports_vf_macs = false;
    size_t before = host->netlink_requests.size();
    {
        auto unknown = VfMacAssignment::assign(host, "eth1", 0, mac_of("02:00:00:00:00:09"));
        REQUIRE(unknown.ok());
        CHECK_FALSE(unknown->pending());
        CHECK_FALSE(unknown->original());
    }
    CHECK(host->netlink_requests.size() == before + 2);  // read, set; nothing at destruction
    CHECK(host->vf_macs[0] == mac_of("02:00:00:00:00:09"));
    auto no_pf = VfMacAssignment::assign(host, "eth9", 0, mac_of("02:00:00:00:00:09"));
    REQUIRE(!no_pf.ok());
}
