// What of the macvtap backend needs no kernel: the mode numbers and the
// crash registry's bookkeeping (the kernel side is in tests/net_host).
#include "net/created_links.h"
#include "net/macvtap.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <vector>

using namespace skiff::net;

TEST_CASE("macvtap modes map to the kernel's macvlan mode numbers and back", "[net][macvtap]") {
    CHECK(macvlan_mode_value(MacvtapMode::Private) == MACVLAN_MODE_PRIVATE);
    CHECK(macvlan_mode_value(MacvtapMode::Vepa) == MACVLAN_MODE_VEPA);
    CHECK(macvlan_mode_value(MacvtapMode::Bridge) == MACVLAN_MODE_BRIDGE);
    CHECK(macvlan_mode_value(MacvtapMode::Passthru) == MACVLAN_MODE_PASSTHRU);
    for (auto mode : {MacvtapMode::Private, MacvtapMode::Vepa, MacvtapMode::Bridge, MacvtapMode::Passthru}) {
        CHECK(macvtap_mode_from_value(macvlan_mode_value(mode)) == mode);
    }
    CHECK_FALSE(macvtap_mode_from_value(MACVLAN_MODE_SOURCE).has_value());
}

TEST_CASE("the crash registry takes small requests until full, and frees slots", "[net][macvtap]") {
    NetlinkMessage request(RTM_DELLINK, 0);
    ifinfomsg info{};
    info.ifi_index = 1000000;  // never sent in this test
    request.append_header(info);
    std::vector<size_t> slots;
    while (auto slot = CreatedLinks::remember(request)) {
        slots.push_back(*slot);
        REQUIRE(slots.size() <= CreatedLinks::kSlots);
    }
    CHECK(slots.size() == CreatedLinks::kSlots);
    CreatedLinks::forget(slots.back());
    auto again = CreatedLinks::remember(request);
    REQUIRE(again.has_value());
    CHECK(*again == slots.back());
    slots.back() = *again;
    for (size_t slot : slots) {
        CreatedLinks::forget(slot);
    }

    NetlinkMessage too_big(RTM_DELLINK, 0);
    too_big.append_header(info);
    too_big.put(IFLA_IFALIAS, std::vector<std::byte>(CreatedLinks::kMaxMessage));
    CHECK_FALSE(CreatedLinks::remember(too_big).has_value());
}

TEST_CASE("the owner tag of a created macvtap reads back, and nothing else reads as one", "[net][macvtap]") {
    auto self = this_process_owner();
    REQUIRE(self.has_value());
    CHECK(self->pid == ::getpid());
    CHECK(self->start > 0);
    CHECK(self->pid_namespace > 0);
    CHECK(parse_owner_tag(owner_tag(*self)) == self);
    MacvtapOwner big{.pid = 4194304, .start = 18446744073709551615ULL, .pid_namespace = 4026531836};
    CHECK(owner_tag(big) == "skiff pid=4194304 start=18446744073709551615 pidns=4026531836");
    CHECK(parse_owner_tag(owner_tag(big)) == big);
    for (const char* alias : {"", "skiff", "skiff pid=", "skiff pid=12", "skiff pid=12 start=5",
                              "skiff pid=12 start=5 pidns=", "skiff pid=12 start=5 pidns=7 ", "skiff pid=0 start=5 pidns=7",
                              "skiff pid=-3 start=5 pidns=7", "skiff pid=12 start=x pidns=7", "skiff  pid=12 start=5 pidns=7",
                              "Skiff pid=12 start=5 pidns=7", "skiff pid=12 start=5 pidns=7x", "my uplink",
                              "skiff pid=99999999999 start=5 pidns=7"}) {
        INFO(alias);
        CHECK_FALSE(parse_owner_tag(alias).has_value());
    }
}

TEST_CASE("an owner runs while its pid has its start time, in this PID namespace", "[net][macvtap]") {
    auto self = *this_process_owner();
    CHECK(owner_running(self));
    MacvtapOwner reused = self;
    reused.start += 1;  // the pid now belongs to a process started later
    CHECK_FALSE(owner_running(reused));
    // A process that has exited (and was reaped): its pid is free.
    pid_t child = ::fork();
    REQUIRE(child >= 0);
    if (child == 0) {
        ::_exit(0);
    }
    int status = 0;
    REQUIRE(::waitpid(child, &status, 0) == child);
    MacvtapOwner gone = self;
    gone.pid = child;
    CHECK_FALSE(owner_running(gone));
    // Another PID namespace's pid says nothing about processes here.
    MacvtapOwner foreign = reused;
    foreign.pid_namespace += 1;
    CHECK(owner_running(foreign));
}
