// The macvtap backend against the real kernel: a veth pair in a private
// network namespace per test case, the macvtap stacked on one end, frames
// through /dev/tapN coming out of the other end and back.
#include "net/created_links.h"
#include "net/interface.h"
#include "net/macvtap.h"
#include "net/netlink.h"
#include "net_test_support.h"

#include <catch2/catch.hpp>

#include <fcntl.h>
#include <linux/if_link.h>
#include <linux/if_tun.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>

using namespace skiff;
using namespace skiff::test;
using net::IoResult;
using net::Macvtap;
using net::MacvtapMode;
using net::MacvtapOptions;

namespace {

constexpr net::MacAddress kGuestMac{{0x02, 0x00, 0x00, 0x00, 0x88, 0x01}};
constexpr const char* kGuestAddress = "10.78.0.2";  // behind the macvtap
constexpr const char* kPeerSide = "10.78.0.1";       // on vethB, the other end

int transact(const net::NetlinkMessage& message) {
    auto result = net::netlink_transact(message);
    REQUIRE(result.ok());
    return *result;
}

ifinfomsg link_header(unsigned index = 0) {
    ifinfomsg info{};
    info.ifi_family = AF_UNSPEC;
    info.ifi_index = static_cast<int>(index);
    return info;
}

// vethA <-> vethB, both up; vethB has 10.78.0.1/24.
void make_veth_pair() {
    REQUIRE(create_veth_pair("vethA", "vethB") == "");
    REQUIRE_OK(net::set_link_up("vethA"));
    REQUIRE_OK(net::set_link_up("vethB"));
    REQUIRE(set_ipv4_address("vethB", kPeerSide, "255.255.255.0") == "");
}

// A macvtap made by hand (as an admin would), for the existing-by-name path.
void make_macvtap_by_hand(const std::string& name, const std::string& link, const net::MacAddress& mac) {
    net::NetlinkMessage request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL);
    request.append_header(link_header());
    request.put_string(IFLA_IFNAME, name);
    request.put_u32(IFLA_LINK, REQUIRE_OK(net::query_link(link)).index);
    request.put(IFLA_ADDRESS, std::as_bytes(std::span(mac.bytes)));
    size_t link_info = request.begin_nested(IFLA_LINKINFO);
    request.put_string(IFLA_INFO_KIND, "macvtap");
    size_t data = request.begin_nested(IFLA_INFO_DATA);
    request.put_u32(IFLA_MACVLAN_MODE, MACVLAN_MODE_BRIDGE);
    request.end_nested(data);
    request.end_nested(link_info);
    REQUIRE(transact(request) == 0);
}

void fresh_namespace_with_veth() {
    auto error = enter_fresh_network_namespace();
    INFO(error);
    REQUIRE(error.empty());
    make_veth_pair();
}

std::string open_error(const MacvtapOptions& options) {
    auto macvtap = Macvtap::open(options);
    REQUIRE_FALSE(macvtap.ok());
    return macvtap.error().message;
}

bool is_arp_reply_to(const Bytes& frame, const net::MacAddress& mac) {
    size_t at = net::kVnetHeaderSize;
    return frame.size() >= at + kEthernetHeader + 28 && read_be16(frame, at + 12) == 0x0806 &&
           read_be16(frame, at + kEthernetHeader + 6) == 2 &&
           std::equal(mac.bytes.begin(), mac.bytes.end(), frame.begin() + static_cast<long>(at));
}

bool is_icmp_echo_reply(const Bytes& frame) {
    size_t at = net::kVnetHeaderSize;
    return frame.size() >= at + kEthernetHeader + kIpv4Header + 8 && read_be16(frame, at + 12) == 0x0800 &&
           frame[at + kEthernetHeader + 9] == 1 && frame[at + kEthernetHeader + kIpv4Header] == 0;
}

// Runs `body` in a forked child that is expected to die of `signal_number`
// after writing the macvtap's name to the pipe; returns that name.
std::string name_left_by_crashing_child(int signal_number, void (*crash)()) {
    int pipe_fds[2];
    REQUIRE(::pipe(pipe_fds) == 0);
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::close(pipe_fds[0]);
        rlimit no_core{0, 0};
        ::setrlimit(RLIMIT_CORE, &no_core);  // no core file from the test's crash
        // As in skiff: no other handler for the crash signals (Catch2 has
        // its own in this process).
        for (int crash_signal : {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT}) {
            ::signal(crash_signal, SIG_DFL);
        }
        MacvtapOptions options;
        options.link = "vethA";
        options.mac = kGuestMac;
        auto macvtap = Macvtap::open(options);
        if (!macvtap.ok()) {
            ::_exit(3);
        }
        const std::string& name = (*macvtap)->name();
        if (::write(pipe_fds[1], name.data(), name.size()) != static_cast<ssize_t>(name.size())) {
            ::_exit(4);
        }
        ::close(pipe_fds[1]);
        crash();
        ::_exit(5);  // not reached
    }
    ::close(pipe_fds[1]);
    char buffer[IFNAMSIZ + 1] = {};
    ssize_t length = ::read(pipe_fds[0], buffer, IFNAMSIZ);
    ::close(pipe_fds[0]);
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    INFO("child status " << status);
    REQUIRE(WIFSIGNALED(status));
    CHECK(WTERMSIG(status) == signal_number);
    REQUIRE(length > 0);
    return std::string(buffer, static_cast<size_t>(length));
}

}  // namespace

TEST_CASE("a macvtap skiff creates carries frames both ways through its link", "[macvtap][frames]") {
    fresh_namespace_with_veth();
    MacvtapOptions options;
    options.link = "vethA";
    options.name = "mvt0";
    options.mac = kGuestMac;
    options.mtu = 1400;
    auto macvtap = REQUIRE_OK(Macvtap::open(options));
    CHECK(macvtap->created());
    CHECK(macvtap->name() == "mvt0");
    CHECK(macvtap->mac() == kGuestMac);
    CHECK(macvtap->mtu() == 1400);
    CHECK(macvtap->mode() == MacvtapMode::Bridge);

    auto link = REQUIRE_OK(net::query_link("mvt0"));
    CHECK(link.kind == "macvtap");
    CHECK(link.index == macvtap->index());
    CHECK(link.link_index == REQUIRE_OK(net::query_link("vethA")).index);
    CHECK(link.macvlan_mode == uint32_t{MACVLAN_MODE_BRIDGE});
    CHECK(link.mac == kGuestMac);
    CHECK(link.mtu == uint32_t{1400});
    CHECK(link.up);

    auto tap = macvtap->take_tap();
    REQUIRE(tap);
    CHECK(tap->name() == "mvt0");
    // The tap set-up ioctls work on /dev/tapN.
    ifreq request{};
    REQUIRE(::ioctl(tap->fd(), TUNGETIFF, &request) == 0);
    CHECK(std::string(request.ifr_name) == "mvt0");
    CHECK((request.ifr_flags & IFF_VNET_HDR) != 0);
    int header_size = 0;
    REQUIRE(::ioctl(tap->fd(), TUNGETVNETHDRSZ, &header_size) == 0);
    CHECK(header_size == 12);
    CHECK((::fcntl(tap->fd(), F_GETFL) & O_NONBLOCK) != 0);
    CHECK((::fcntl(tap->fd(), F_GETFD) & FD_CLOEXEC) != 0);
    auto offloads = tap->supported_offloads();
    CHECK(offloads.checksum);
    CHECK(offloads.tso4);
    CHECK(offloads.tso6);
    REQUIRE_OK(tap->set_offloads(offloads));
    REQUIRE_OK(tap->set_offloads({}));

    // Guest -> macvtap -> vethA -> vethB (the kernel answers there) -> back
    // through vethA to the macvtap, addressed to its MAC.
    CHECK(REQUIRE_OK(send_frame(*tap, arp_request(kGuestMac, kGuestAddress, kPeerSide))) == IoResult::Done);
    auto reply = receive_until(*tap, [](const Bytes& frame) { return is_arp_reply_to(frame, kGuestMac); });
    REQUIRE(reply.has_value());
    auto peer_mac = REQUIRE_OK(net::interface_mac("vethB"));
    size_t arp = net::kVnetHeaderSize + kEthernetHeader;
    CHECK(std::equal(peer_mac.bytes.begin(), peer_mac.bytes.end(), reply->begin() + static_cast<long>(arp + 8)));

    auto echo = icmp_echo_request(kGuestMac, peer_mac, kGuestAddress, kPeerSide, 0x4d56, 3);
    CHECK(REQUIRE_OK(send_frame(*tap, echo)) == IoResult::Done);
    auto answer = receive_until(*tap, is_icmp_echo_reply);
    REQUIRE(answer.has_value());
    CHECK(answer->size() == echo.size());
    CHECK(tap->dropped_frames() == 0);

    tap.reset();
    macvtap.reset();
    CHECK_FALSE(net::interface_exists("mvt0"));
}

TEST_CASE("a macvtap without a name gets a free one, in the mode asked", "[macvtap]") {
    fresh_namespace_with_veth();
    for (MacvtapMode mode : {MacvtapMode::Bridge, MacvtapMode::Vepa, MacvtapMode::Private}) {
        MacvtapOptions options;
        options.link = "vethA";
        options.mode = mode;
        auto first = REQUIRE_OK(Macvtap::open(options));
        auto second = REQUIRE_OK(Macvtap::open(options));  // random MACs: no clash in bridge mode
        CHECK(first->name() == "skiffmvt0");
        CHECK(second->name() == "skiffmvt1");
        CHECK(first->mac() != second->mac());
        CHECK_FALSE(first->mac().is_multicast());
        auto link = REQUIRE_OK(net::query_link(first->name()));
        CHECK(link.macvlan_mode == net::macvlan_mode_value(mode));
        CHECK(first->mode() == mode);
    }
    CHECK_FALSE(net::interface_exists("skiffmvt0"));
    CHECK_FALSE(net::interface_exists("skiffmvt1"));
}

TEST_CASE("a passthru macvtap takes its link's MAC and the link to itself", "[macvtap]") {
    fresh_namespace_with_veth();
    auto link_mac = REQUIRE_OK(net::interface_mac("vethA"));
    MacvtapOptions options;
    options.link = "vethA";
    options.mode = MacvtapMode::Passthru;
    auto macvtap = REQUIRE_OK(Macvtap::open(options));
    CHECK(macvtap->mode() == MacvtapMode::Passthru);
    CHECK(macvtap->mac() == link_mac);
    MacvtapOptions another;
    another.link = "vethA";
    auto error = open_error(another);
    CHECK_THAT(error, Catch::Contains("passthru needs the link to itself"));
}

TEST_CASE("an existing macvtap is used by name, keeps its MAC and stays", "[macvtap]") {
    fresh_namespace_with_veth();
    constexpr net::MacAddress kAdminMac{{0x02, 0x00, 0x00, 0x00, 0x99, 0x07}};
    make_macvtap_by_hand("mvtadmin", "vethA", kAdminMac);
    {
        MacvtapOptions options;
        options.name = "mvtadmin";
        auto macvtap = REQUIRE_OK(Macvtap::open(options));
        CHECK_FALSE(macvtap->created());
        CHECK(macvtap->mac() == kAdminMac);
        CHECK(REQUIRE_OK(net::is_link_up("mvtadmin")));
        auto tap = macvtap->take_tap();
        REQUIRE(tap);
        CHECK(REQUIRE_OK(send_frame(*tap, arp_request(kAdminMac, kGuestAddress, kPeerSide))) == IoResult::Done);
        CHECK(receive_until(*tap, [&](const Bytes& frame) { return is_arp_reply_to(frame, kAdminMac); }));
    }
    CHECK(net::interface_exists("mvtadmin"));
    {
        // With link= it must be the macvtap's link; mac= that differs is set.
        MacvtapOptions options;
        options.name = "mvtadmin";
        options.link = "vethA";
        options.mac = kGuestMac;
        auto macvtap = REQUIRE_OK(Macvtap::open(options));
        CHECK(macvtap->mac() == kGuestMac);
        CHECK(REQUIRE_OK(net::interface_mac("mvtadmin")) == kGuestMac);
        options.link = "vethB";
        CHECK_THAT(open_error(options), Catch::Contains("macvtap 'mvtadmin' is on vethA, not on vethB"));
    }
    CHECK(net::interface_exists("mvtadmin"));
    CHECK(delete_link("mvtadmin") == "");
}

TEST_CASE("macvtap errors name the cause and the fix", "[macvtap]") {
    fresh_namespace_with_veth();
    MacvtapOptions no_link;
    no_link.link = "eth9";
    CHECK_THAT(open_error(no_link), Catch::StartsWith("link 'eth9' does not exist"));

    MacvtapOptions not_macvtap;
    not_macvtap.name = "vethB";
    CHECK_THAT(open_error(not_macvtap),
               Catch::StartsWith("interface 'vethB' exists and is a veth, not a macvtap: choose another name="));

    MacvtapOptions missing;
    missing.name = "mvtnone";
    CHECK_THAT(open_error(missing), Catch::Contains("macvtap 'mvtnone' does not exist: give link=IF"));

    MacvtapOptions too_big;
    too_big.link = "vethA";
    too_big.mtu = 9000;
    CHECK_THAT(open_error(too_big), Catch::Contains("mtu=9000 is above vethA's MTU 1500"));

    MacvtapOptions on_loopback;
    on_loopback.link = "lo";
    CHECK_THAT(open_error(on_loopback), Catch::StartsWith("link 'lo' cannot carry a macvtap: it is not an Ethernet"));

    // Two macvtaps with one MAC on one link: the second is refused...
    MacvtapOptions first;
    first.link = "vethA";
    first.mac = kGuestMac;
    auto holder = REQUIRE_OK(Macvtap::open(first));
    CHECK_THAT(open_error(first), Catch::Contains("is already used by another macvtap/macvlan on vethA"));
    // ... and leaves nothing behind.
    CHECK_FALSE(net::interface_exists("skiffmvt1"));
    holder.reset();
    CHECK_FALSE(net::interface_exists("skiffmvt0"));
}

TEST_CASE("a macvtap skiff created is deleted when skiff crashes", "[macvtap][crash]") {
    fresh_namespace_with_veth();
    SECTION("SIGSEGV") {
        auto name = name_left_by_crashing_child(SIGSEGV, [] { ::raise(SIGSEGV); });
        CHECK(name == "skiffmvt0");
        CHECK_FALSE(net::interface_exists(name));
    }
    SECTION("abort") {
        auto name = name_left_by_crashing_child(SIGABRT, [] { std::abort(); });
        CHECK_FALSE(net::interface_exists(name));
    }
    SECTION("a real fault") {
        auto name = name_left_by_crashing_child(SIGSEGV, [] {
            // A store to a page mapped without access: a real fault.
            void* page = ::mmap(nullptr, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            *static_cast<volatile int*>(page) = 1;
        });
        CHECK_FALSE(net::interface_exists(name));
    }
}

namespace {

// Gives interface `name` the alias `alias` (ip link set NAME alias ALIAS).
void set_alias(const std::string& name, const std::string& alias) {
    net::NetlinkMessage request(RTM_SETLINK, 0);
    request.append_header(link_header(REQUIRE_OK(net::query_link(name)).index));
    request.put_string(IFLA_IFALIAS, alias);
    REQUIRE(transact(request) == 0);
}

}  // namespace

TEST_CASE("a macvtap left by a skiff killed with SIGKILL goes when the next one creates a macvtap",
          "[macvtap][owner]") {
    fresh_namespace_with_veth();
    auto name = name_left_by_crashing_child(SIGKILL, [] { ::raise(SIGKILL); });
    // No handler runs on SIGKILL: the interface is left, with its tag.
    auto left = REQUIRE_OK(net::query_link(name));
    auto owner = net::parse_owner_tag(left.alias);
    REQUIRE(owner.has_value());
    CHECK(owner->pid != ::getpid());
    CHECK_FALSE(net::owner_running(*owner));

    MacvtapOptions options;
    options.link = "vethA";
    options.mac = kGuestMac;
    auto macvtap = REQUIRE_OK(Macvtap::open(options));
    char old_name[IF_NAMESIZE];
    CHECK(::if_indextoname(left.index, old_name) == nullptr);  // the abandoned one is gone
    CHECK(macvtap->index() != left.index);
    // The new one carries this process's tag.
    CHECK(REQUIRE_OK(net::query_link(macvtap->name())).alias == net::owner_tag(*net::this_process_owner()));
}

TEST_CASE("only macvtaps tagged by a skiff of this PID namespace that no longer runs are removed",
          "[macvtap][owner]") {
    fresh_namespace_with_veth();
    auto self = *net::this_process_owner();
    net::MacvtapOwner dead = self;
    dead.start += 1;  // this pid, another start: the skiff that had it is gone
    net::MacvtapOwner foreign = dead;
    foreign.pid_namespace += 1;
    const std::vector<std::pair<std::string, std::string>> macvtaps = {
        {"mvdead", net::owner_tag(dead)},
        {"mvlive", net::owner_tag(self)},
        {"mvforeign", net::owner_tag(foreign)},
        {"mvother", "uplink of the web tier"},
        {"mvnone", ""},
    };
    uint8_t last = 0x10;
    for (const auto& [name, alias] : macvtaps) {
        make_macvtap_by_hand(name, "vethA", net::MacAddress{{0x02, 0x00, 0x00, 0x00, 0x77, last++}});
        if (!alias.empty()) {
            set_alias(name, alias);
        }
    }
    CHECK(REQUIRE_OK(net::remove_abandoned_macvtaps()) == 1);
    CHECK_FALSE(net::interface_exists("mvdead"));
    for (const char* kept : {"mvlive", "mvforeign", "mvother", "mvnone", "vethA", "vethB"}) {
        INFO(kept);
        CHECK(net::interface_exists(kept));
    }
    CHECK(REQUIRE_OK(net::remove_abandoned_macvtaps()) == 0);
    // The dump sees every interface with its name and alias.
    auto links = REQUIRE_OK(net::list_links());
    auto other = std::find_if(links.begin(), links.end(), [](const net::LinkInfo& link) { return link.name == "mvother"; });
    REQUIRE(other != links.end());
    CHECK(other->alias == "uplink of the web tier");
    CHECK(other->kind == "macvtap");
}
