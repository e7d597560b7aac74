// What of the macvtap backend needs no kernel: the mode numbers and the
// crash registry's bookkeeping (the kernel side is in tests/net_host).
#include "net/created_links.h"
#include "net/macvtap.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>

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
