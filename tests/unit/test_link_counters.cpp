// KernelLinkCounters on a fake sysfs tree (fake_link_sysfs.h): parsing,
// the counting from open() on, the tap and macvtap directions, the
// identity check against this namespace's "lo", and the one warning when
// the files are unusable. (The real kernel: net_host [link_counters].)
#include "captured_log.h"
#include "devices/virtio/net/virtio_net.h"
#include "fake_link_sysfs.h"
#include "fake_net_backend.h"
#include "net/link_counters.h"
#include "vhost_recorder.h"
#include "vmm/event_loop.h"

#include <catch2/catch.hpp>

using namespace skiff;
using net::KernelLinkCounters;
using net::LinkKind;
using test::CapturedLog;
using test::FakeLinkSysfs;

namespace {

void set_all(FakeLinkSysfs& sysfs, uint64_t rx_packets, uint64_t rx_bytes, uint64_t rx_dropped,
             uint64_t rx_frame_errors, uint64_t tx_packets, uint64_t tx_bytes, uint64_t tx_dropped) {
    sysfs.set("rx_packets", rx_packets);
    sysfs.set("rx_bytes", rx_bytes);
    sysfs.set("rx_dropped", rx_dropped);
    sysfs.set("rx_frame_errors", rx_frame_errors);
    sysfs.set("tx_packets", tx_packets);
    sysfs.set("tx_bytes", tx_bytes);
    sysfs.set("tx_dropped", tx_dropped);
}

}  // namespace

TEST_CASE("kernel link counters of a tap: its tx is the guest's rx, from open() on", "[link_counters]") {
    FakeLinkSysfs sysfs("lo");
    // History before skiff opened it does not count.
    set_all(sysfs, 1000, 100000, 7, 1, 2000, 200000, 9);
    CapturedLog warnings;
    auto counters = KernelLinkCounters::open("lo", LinkKind::Tap, "net0", sysfs.directory());
    REQUIRE(counters);
    CHECK(counters->available());
    CHECK(warnings.text().empty());
    net::NetCounterValues values = counters->read();
    CHECK(values.rx_packets == 0);
    CHECK(values.tx_packets == 0);
    CHECK(values.rx_dropped == 0);
    CHECK(values.tx_dropped == 0);

    set_all(sysfs, 1000 + 3, 100000 + 300, 7 + 1, 1 + 2, 2000 + 5, 200000 + 500, 9 + 4);
    values = counters->read();
    CHECK(values.rx_packets == 5);   // the tap's tx: frames handed to the reader
    CHECK(values.rx_bytes == 500);
    CHECK(values.rx_dropped == 4);   // the tap's tx_dropped: its queue was full
    CHECK(values.tx_packets == 3);   // the tap's rx: frames written into it
    CHECK(values.tx_bytes == 300);
    CHECK(values.tx_dropped == 3);   // rx_dropped + rx_frame_errors
    CHECK(values.rx_throttled == 0);
    CHECK(values.tx_throttled == 0);
}

TEST_CASE("kernel link counters of a macvtap: its rx is the guest's rx", "[link_counters]") {
    FakeLinkSysfs sysfs("lo");
    set_all(sysfs, 10, 1000, 1, 0, 20, 2000, 2);
    auto counters = KernelLinkCounters::open("lo", LinkKind::Macvtap, "net0", sysfs.directory());
    REQUIRE(counters->available());
    set_all(sysfs, 10 + 3, 1000 + 300, 1 + 1, 0, 20 + 5, 2000 + 500, 2 + 2);
    net::NetCounterValues values = counters->read();
    CHECK(values.rx_packets == 3);
    CHECK(values.rx_bytes == 300);
    CHECK(values.rx_dropped == 1);
    CHECK(values.tx_packets == 5);
    CHECK(values.tx_bytes == 500);
    CHECK(values.tx_dropped == 2);
}

TEST_CASE("kernel link counters: full 64-bit values; an unreadable value keeps the last one", "[link_counters]") {
    FakeLinkSysfs sysfs("lo");
    sysfs.set("tx_bytes", uint64_t{1} << 40);
    auto counters = KernelLinkCounters::open("lo", LinkKind::Tap, "net0", sysfs.directory());
    REQUIRE(counters->available());
    sysfs.set("tx_bytes", (uint64_t{1} << 40) + 123456789012);
    CHECK(counters->read().rx_bytes == 123456789012);
    CapturedLog warnings;
    sysfs.write("statistics/tx_bytes", "garbage\n");
    CHECK(counters->read().rx_bytes == 123456789012);
    CHECK_THAT(warnings.text(), Catch::Contains("statistics/tx_bytes failed"));
    sysfs.write("statistics/tx_bytes", "");
    CHECK(counters->read().rx_bytes == 123456789012);
    // Going backwards (it cannot, while skiff holds the interface): zero, not a wrap.
    sysfs.set("tx_bytes", 5);
    CHECK(counters->read().rx_bytes == 0);
}

TEST_CASE("kernel link counters: another namespace's sysfs reads zero, with one warning", "[link_counters]") {
    SECTION("another ifindex") {
        FakeLinkSysfs sysfs("lo", "7");
        CapturedLog warnings;
        auto counters = KernelLinkCounters::open("lo", LinkKind::Tap, "net0", sysfs.directory());
        REQUIRE(counters);
        CHECK_FALSE(counters->available());
        CHECK(warnings.lines() == 1);
        CHECK_THAT(warnings.text(), Catch::Contains("net0: packet counters will read zero"));
        CHECK_THAT(warnings.text(), Catch::Contains("another network namespace's interface (ifindex 7"));
        CHECK_THAT(warnings.text(), Catch::Contains("ip netns exec"));
        sysfs.set("tx_packets", 99);
        CHECK(counters->read().rx_packets == 0);
    }
    SECTION("the same ifindex, another MAC") {
        FakeLinkSysfs sysfs("lo", "1", "02:00:00:00:00:01");
        CapturedLog warnings;
        auto counters = KernelLinkCounters::open("lo", LinkKind::Tap, "net0", sysfs.directory());
        CHECK_FALSE(counters->available());
        CHECK(warnings.lines() == 1);
        CHECK_THAT(warnings.text(), Catch::Contains("MAC 02:00:00:00:00:01"));
    }
    SECTION("no such interface in sysfs") {
        FakeLinkSysfs sysfs("lo");
        CapturedLog warnings;
        auto counters = KernelLinkCounters::open("skiffnone0", LinkKind::Tap, "net0", sysfs.directory());
        CHECK_FALSE(counters->available());
        CHECK(warnings.lines() == 1);
        CHECK_THAT(warnings.text(), Catch::Contains("/sys does not show 'skiffnone0'"));
        CHECK(counters->read().tx_packets == 0);
    }
    SECTION("a statistics file missing") {
        FakeLinkSysfs sysfs("lo");
        sysfs.remove("statistics/rx_frame_errors");
        CapturedLog warnings;
        auto counters = KernelLinkCounters::open("lo", LinkKind::Tap, "net0", sysfs.directory());
        CHECK_FALSE(counters->available());
        CHECK(warnings.lines() == 1);
        CHECK_THAT(warnings.text(), Catch::Contains("statistics/rx_frame_errors: No such file"));
    }
    SECTION("sysfs shows the name, skiff's namespace has no such interface") {
        FakeLinkSysfs sysfs("skiffnone0");
        CapturedLog warnings;
        auto counters = KernelLinkCounters::open("skiffnone0", LinkKind::Macvtap, "net0", sysfs.directory());
        CHECK_FALSE(counters->available());
        CHECK(warnings.lines() == 1);
        CHECK_THAT(warnings.text(), Catch::Contains("'skiffnone0' not found in skiff's network namespace"));
    }
}

TEST_CASE("virtio-net counts with the kernel's counters in vhost mode only", "[link_counters][vhost][net]") {
    FakeLinkSysfs sysfs("lo");
    set_all(sysfs, 50, 5000, 0, 0, 60, 6000, 0);
    auto loop = EventLoop::create().value();
    virtio::VirtioNetOptions options{.name = "net0", .mac = {2, 0, 0, 0, 0, 1}, .mtu = {}};

    testing::VhostRecorder recorder;
    recorder.features = uint64_t{1} << 32;  // VERSION_1
    virtio::VirtioNet vhost_net(options, std::make_unique<testing::FakeNetBackend>(), *loop, recorder.backend(),
                                KernelLinkCounters::open("lo", LinkKind::Tap, "net0", sysfs.directory()));
    // In-process: the kernel's counters, if given, are not used.
    virtio::VirtioNet in_process(options, std::make_unique<testing::FakeNetBackend>(), *loop, nullptr,
                                 KernelLinkCounters::open("lo", LinkKind::Tap, "net1", sysfs.directory()));
    set_all(sysfs, 50 + 2, 5000 + 222, 0, 0, 60 + 4, 6000 + 444, 1);
    net::NetCounterValues values = vhost_net.counter_values();
    CHECK(values.rx_packets == 4);
    CHECK(values.rx_bytes == 444);
    CHECK(values.rx_dropped == 1);
    CHECK(values.tx_packets == 2);
    CHECK(values.tx_bytes == 222);
    CHECK(in_process.counter_values().rx_packets == 0);
    CHECK(in_process.counter_values().tx_packets == 0);

    // vhost without a counter source: zeros, as before.
    testing::VhostRecorder other;
    other.features = uint64_t{1} << 32;
    virtio::VirtioNet without(options, std::make_unique<testing::FakeNetBackend>(), *loop, other.backend());
    CHECK(without.counter_values().rx_packets == 0);
}
