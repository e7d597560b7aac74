// virtio-net in vhost mode, driven through the real virtio-mmio and
// virtio-pci transports, with the kernel replaced by a recorder at
// KernelVhostNet's ioctl seam.
#include "devices/pci/pci_config_space.h"
#include "devices/virtio/mmio_registers.h"
#include "devices/virtio/net/features.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/vhost/vhost_abi.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/virtio/virtio_pci.h"
#include "devices/virtio/virtio_pci_layout.h"
#include "fake_net_backend.h"
#include "mmio_access.h"
#include "test_pci_support.h"
#include "vhost_recorder.h"
#include "vmm/event_loop.h"

#include <catch2/catch.hpp>

#include <poll.h>

#include <cstring>

using namespace skiff;
using namespace skiff::virtio;
using skiff::test::eventfd_count;
using skiff::testing::FakeNetBackend;
using skiff::testing::VhostRecorder;
namespace abi = skiff::vhost::abi;

namespace {

constexpr uint64_t kHigh = uint64_t{1} << 32;

// What vhost-net in Linux 6.1 answers to GET_FEATURES, minus indirect
// descriptors (to see the device stop offering what vhost lacks).
constexpr uint64_t kVhostFeatures = feature_bit(24) | feature_bit(feature::kRingEventIdx) | feature_bit(26) |
                                    feature_bit(27) | feature_bit(net_feature::kMrgRxbuf) |
                                    feature_bit(feature::kVersion1) | feature_bit(33);

bool readable(int fd) {
    pollfd poll_fd{fd, POLLIN, 0};
    return ::poll(&poll_fd, 1, 0) == 1;
}

void signal_fd(int fd) {
    uint64_t one = 1;
    REQUIRE(::write(fd, &one, sizeof(one)) == sizeof(one));
}

uint64_t host(const GuestMemory& memory, uint64_t address, uint64_t length) {
    return reinterpret_cast<uint64_t>(memory.slice(GuestAddress(address), length).value().data());
}

struct Rings {
    uint64_t descriptors;
    uint64_t driver;
    uint64_t device;
    uint16_t size;
};

// The vhost set-up of one activation, checked call by call against what
// the transport programmed. Returns the call fds.
std::vector<int> check_set_up(const VhostRecorder& recorder, size_t first, const GuestMemory& memory,
                              uint64_t expected_features, const std::vector<Rings>& rings,
                              const std::vector<int>& kick_fds, int tap_fd) {
    const std::vector<std::string> all = recorder.names();
    REQUIRE(all.size() >= first);
    std::vector<std::string> names(all.begin() + static_cast<long>(first), all.end());
    CHECK(names == std::vector<std::string>{"SET_FEATURES", "SET_MEM_TABLE", "SET_VRING_NUM", "SET_VRING_BASE",
                                            "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_NUM",
                                            "SET_VRING_BASE", "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL",
                                            "NET_SET_BACKEND", "NET_SET_BACKEND"});
    std::vector<int> call_fds;
    if (names.size() != 14) {
        return call_fds;
    }
    const auto* calls = &recorder.calls[first];
    CHECK(static_cast<uint64_t>(calls[0].value) == expected_features);
    const auto& table = calls[1].regions;
    REQUIRE(table.size() == memory.regions().size());
    for (size_t i = 0; i < table.size(); ++i) {
        CHECK(table[i].guest_phys_addr == memory.regions()[i].start.value());
        CHECK(table[i].memory_size == memory.regions()[i].size);
        CHECK(table[i].userspace_addr == reinterpret_cast<uint64_t>(memory.regions()[i].host));
    }
    for (uint32_t q = 0; q < 2; ++q) {
        INFO("queue " << q);
        const auto* queue = calls + 2 + 5 * q;
        CHECK((queue[0].index == q && queue[0].value == rings[q].size));
        CHECK((queue[1].index == q && queue[1].value == 0));
        CHECK(queue[2].index == q);
        CHECK(queue[2].addresses.desc_user_addr == host(memory, rings[q].descriptors, 16 * rings[q].size));
        CHECK(queue[2].addresses.avail_user_addr == host(memory, rings[q].driver, 6 + 2 * rings[q].size));
        CHECK(queue[2].addresses.used_user_addr == host(memory, rings[q].device, 6 + 8 * rings[q].size));
        CHECK((queue[3].index == q && queue[3].value == kick_fds[q]));
        CHECK(queue[4].index == q);
        call_fds.push_back(static_cast<int>(queue[4].value));
    }
    CHECK((calls[12].index == 0 && calls[12].value == tap_fd));
    CHECK((calls[13].index == 1 && calls[13].value == tap_fd));
    return call_fds;
}

void check_tear_down(const VhostRecorder& recorder, size_t first) {
    const std::vector<std::string> all = recorder.names();
    REQUIRE(all.size() >= first);
    std::vector<std::string> names(all.begin() + static_cast<long>(first), all.end());
    REQUIRE(names == std::vector<std::string>{"NET_SET_BACKEND", "NET_SET_BACKEND", "GET_VRING_BASE", "GET_VRING_BASE"});
    const auto* calls = &recorder.calls[first];
    CHECK((calls[0].index == 0 && calls[0].value == -1));
    CHECK((calls[1].index == 1 && calls[1].value == -1));
    CHECK(calls[2].index == 0);
    CHECK(calls[3].index == 1);
}

// --- virtio-mmio -----------------------------------------------------------

constexpr GuestAddress kMmioBase(0xd0001000);

using skiff::test::mmio_read;
using skiff::test::mmio_write;

struct MmioMachine {
    GuestMemory memory = GuestMemory::create({{GuestAddress(0), 0x100000}, {GuestAddress(kHigh), 0x100000}}).value();
    std::unique_ptr<EventLoop> loop = EventLoop::create().value();
    VhostRecorder recorder;
    FakeNetBackend* tap = nullptr;
    std::shared_ptr<VirtioNet> net;
    std::shared_ptr<VirtioMmio> transport;
    // Queue 0 low, queue 1 above 4 GiB.
    std::vector<Rings> rings = {{0x10000, 0x14000, 0x18000, 256}, {kHigh + 0x20000, kHigh + 0x24000, kHigh + 0x28000, 64}};

    MmioMachine() {
        recorder.features = kVhostFeatures;
        auto backend = std::make_unique<FakeNetBackend>();
        tap = backend.get();
        net = std::make_shared<VirtioNet>(VirtioNetOptions{.name = "net0", .mac = {2, 0, 0, 0, 0, 1}, .mtu = {}},
                                          std::move(backend), *loop, recorder.backend());
        transport = VirtioMmio::create(net, memory, kMmioBase, nullptr).value();
    }

    uint64_t offered() {
        mmio_write(*transport, mmio::kDeviceFeaturesSel, 1);
        uint64_t high = mmio_read(*transport, mmio::kDeviceFeatures);
        mmio_write(*transport, mmio::kDeviceFeaturesSel, 0);
        return high << 32 | mmio_read(*transport, mmio::kDeviceFeatures);
    }

    void bring_up(uint64_t features) {
        mmio_write(*transport, mmio::kStatus, 0);
        mmio_write(*transport, mmio::kStatus, status::kAcknowledge | status::kDriver);
        mmio_write(*transport, mmio::kDriverFeaturesSel, 1);
        mmio_write(*transport, mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
        mmio_write(*transport, mmio::kDriverFeaturesSel, 0);
        mmio_write(*transport, mmio::kDriverFeatures, static_cast<uint32_t>(features));
        mmio_write(*transport, mmio::kStatus, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
        for (uint32_t q = 0; q < 2; ++q) {
            mmio_write(*transport, mmio::kQueueSel, q);
            mmio_write(*transport, mmio::kQueueNum, rings[q].size);
            mmio_write(*transport, mmio::kQueueDescLow, static_cast<uint32_t>(rings[q].descriptors));
            mmio_write(*transport, mmio::kQueueDescHigh, static_cast<uint32_t>(rings[q].descriptors >> 32));
            mmio_write(*transport, mmio::kQueueDriverLow, static_cast<uint32_t>(rings[q].driver));
            mmio_write(*transport, mmio::kQueueDriverHigh, static_cast<uint32_t>(rings[q].driver >> 32));
            mmio_write(*transport, mmio::kQueueDeviceLow, static_cast<uint32_t>(rings[q].device));
            mmio_write(*transport, mmio::kQueueDeviceHigh, static_cast<uint32_t>(rings[q].device >> 32));
            mmio_write(*transport, mmio::kQueueReady, 1);
        }
        mmio_write(*transport, mmio::kStatus,
                   status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    }
    std::vector<int> kick_fds() const { return {transport->notification_fd(0), transport->notification_fd(1)}; }
};

const uint64_t kDriverFeatures = feature_bit(feature::kVersion1) | feature_bit(feature::kRingEventIdx) |
                                 feature_bit(net_feature::kMrgRxbuf) | feature_bit(net_feature::kCsum) |
                                 feature_bit(net_feature::kGuestCsum) | feature_bit(net_feature::kMac);

}  // namespace

TEST_CASE("vhost-net: offered features are the tap's offloads and the ring bits vhost has", "[vhost][net]") {
    MmioMachine machine;
    uint64_t offered = machine.offered();
    CHECK(has_feature(offered, feature::kVersion1));
    CHECK(has_feature(offered, feature::kRingEventIdx));
    CHECK(has_feature(offered, net_feature::kMrgRxbuf));
    CHECK_FALSE(has_feature(offered, feature::kRingIndirectDesc));  // vhost said no
    CHECK_FALSE(has_feature(offered, 26));                           // vhost's own bits are not virtio's
    CHECK_FALSE(has_feature(offered, 27));
    CHECK_FALSE(has_feature(offered, 33));                           // never offered in-process either
    for (unsigned bit : {net_feature::kCsum, net_feature::kGuestCsum, net_feature::kHostTso4, net_feature::kHostTso6,
                         net_feature::kGuestTso4, net_feature::kGuestTso6, net_feature::kMac, net_feature::kStatus}) {
        INFO("bit " << bit);
        CHECK(has_feature(offered, bit));
    }
    // Nothing moved to the kernel yet but GET_FEATURES.
    CHECK(machine.recorder.names() == std::vector<std::string>{"GET_FEATURES"});
}

TEST_CASE("vhost-net over virtio-mmio: set-up, relay interrupts, reset and re-activation", "[vhost][net]") {
    MmioMachine machine;
    machine.bring_up(kDriverFeatures);
    REQUIRE((mmio_read(*machine.transport, mmio::kStatus) & status::kDriverOk) != 0);
    REQUIRE((mmio_read(*machine.transport, mmio::kStatus) & status::kDeviceNeedsReset) == 0);
    CHECK(machine.tap->enabled.checksum);  // the tap's offloads as today

    // Only what vhost knows: CSUM, GUEST_CSUM and MAC stay with skiff and the tap.
    const uint64_t to_vhost = feature_bit(feature::kVersion1) | feature_bit(feature::kRingEventIdx) |
                              feature_bit(net_feature::kMrgRxbuf);
    std::vector<int> call_fds =
        check_set_up(machine.recorder, 1, machine.memory, to_vhost, machine.rings, machine.kick_fds(), machine.tap->fd());
    REQUIRE(call_fds.size() == 2);
    // mmio: relays, not the line's irqfd (InterruptStatus must be set first).
    for (int fd : call_fds) {
        CHECK(fd >= 0);
        CHECK(fd != machine.transport->interrupt_fd());
    }
    CHECK(call_fds[0] != call_fds[1]);

    // vhost writes queue 1's call fd: the loop raises the line with bit 0.
    signal_fd(call_fds[1]);
    REQUIRE(machine.loop->run_once(100).ok());
    CHECK(mmio_read(*machine.transport, mmio::kInterruptStatus) == 1);
    CHECK(eventfd_count(machine.transport->interrupt_fd()) == 1);
    mmio_write(*machine.transport, mmio::kInterruptAck, 1);
    CHECK(mmio_read(*machine.transport, mmio::kInterruptStatus) == 0);

    // skiff does not poll kicks or the tap: a notification stays for vhost.
    mmio_write(*machine.transport, mmio::kQueueNotify, 1);
    machine.tap->inject(std::vector<uint8_t>(64, 0xab));
    REQUIRE(machine.loop->run_once(0).ok());
    CHECK(readable(machine.transport->notification_fd(1)));
    CHECK(eventfd_count(machine.transport->notification_fd(1)) == 1);

    // Reset: detach the tap, stop the rings, drop the relays.
    size_t before_reset = machine.recorder.calls.size();
    mmio_write(*machine.transport, mmio::kStatus, 0);
    check_tear_down(machine.recorder, before_reset);

    // Re-activation does the whole set-up again.
    size_t before = machine.recorder.calls.size();
    machine.bring_up(kDriverFeatures);
    // bring_up writes status 0 first: the device was already stopped.
    std::vector<int> again = check_set_up(machine.recorder, before, machine.memory, to_vhost, machine.rings,
                                          machine.kick_fds(), machine.tap->fd());
    REQUIRE(again.size() == 2);
    signal_fd(again[0]);
    REQUIRE(machine.loop->run_once(100).ok());
    CHECK(mmio_read(*machine.transport, mmio::kInterruptStatus) == 1);

    // Destruction tears down too.
    size_t before_destroy = machine.recorder.calls.size();
    machine.transport.reset();
    machine.net.reset();
    check_tear_down(machine.recorder, before_destroy);
}

TEST_CASE("vhost-net: a failure in the set-up fails the activation and undoes it", "[vhost][net]") {
    MmioMachine machine;
    machine.recorder.fail[abi::kNetSetBackend] = EBADFD;
    machine.bring_up(kDriverFeatures);
    CHECK((mmio_read(*machine.transport, mmio::kStatus) & status::kDeviceNeedsReset) != 0);
    auto names = machine.recorder.names();
    // set-up up to the first NET_SET_BACKEND, then the tear-down.
    REQUIRE(names.size() >= 5);
    CHECK(std::vector<std::string>(names.end() - 5, names.end()) ==
          std::vector<std::string>{"NET_SET_BACKEND", "NET_SET_BACKEND", "NET_SET_BACKEND", "GET_VRING_BASE",
                                   "GET_VRING_BASE"});
    CHECK(machine.recorder.of(abi::kSetVringAddr).size() == 2);
}

// --- virtio-pci ------------------------------------------------------------

namespace {

struct PciHarness {
    GuestMemory memory = GuestMemory::create({{GuestAddress(0), 0x200000}}).value();
    std::unique_ptr<EventLoop> loop = EventLoop::create().value();
    std::shared_ptr<skiff::test::FakeMsiRouting> routing = std::make_shared<skiff::test::FakeMsiRouting>();
    std::shared_ptr<skiff::test::FakeIoEventRegistrar> ioevents = std::make_shared<skiff::test::FakeIoEventRegistrar>();
    VhostRecorder recorder;
    FakeNetBackend* tap = nullptr;
    std::shared_ptr<VirtioNet> net;
    std::shared_ptr<VirtioPci> transport;
    skiff::test::PciMachine machine;
    uint8_t slot = 0;
    uint64_t bar = 0;
    uint8_t msix_capability = 0;
    std::vector<Rings> rings = {{0x10000, 0x11000, 0x12000, 128}, {0x14000, 0x15000, 0x16000, 128}};

    PciHarness() {
        recorder.features = kVhostFeatures;
        auto backend = std::make_unique<FakeNetBackend>();
        tap = backend.get();
        net = std::make_shared<VirtioNet>(VirtioNetOptions{.name = "net0", .mac = {2, 0, 0, 0, 0, 1}, .mtu = {}},
                                          std::move(backend), *loop, recorder.backend());
        transport = VirtioPci::create(net, memory, routing, ioevents.get()).value();
        slot = machine.root->add_device(transport).value();
        bar = machine.size_bar(slot, pci_bar::kIndex).first;
        machine.config_write(slot, pci::config::kCommand, 2, pci::command::kMemorySpace | pci::command::kBusMaster);
        uint8_t position = static_cast<uint8_t>(machine.config_read(slot, pci::config::kCapabilitiesPointer, 1));
        while (position != 0 && msix_capability == 0) {
            if (machine.config_read(slot, position, 1) == pci::capability_id::kMsix) {
                msix_capability = position;
            }
            position = static_cast<uint8_t>(machine.config_read(slot, position + 1, 1));
        }
        REQUIRE(msix_capability != 0);
    }

    void common(uint16_t field, size_t size, uint64_t value) {
        machine.mmio_write(bar + pci_bar::kCommonConfig + field, size, value);
    }
    uint8_t status() {
        return static_cast<uint8_t>(machine.mmio_read(bar + pci_bar::kCommonConfig + common_cfg::kDeviceStatus, 1));
    }
    uint64_t entry(uint16_t vector) { return bar + pci_bar::kMsixTable + 16 * uint64_t{vector}; }
    uint64_t pba() { return machine.mmio_read(bar + pci_bar::kMsixPba, 8); }

    // Linux's probe: MSI-X on (vector v: data 0x40 + v), config vector 0,
    // queue q on `vectors[q]`, DRIVER_OK.
    void bring_up(uint64_t features, std::array<uint16_t, 2> vectors) {
        common(common_cfg::kDeviceStatus, 1, 0);
        common(common_cfg::kDeviceStatus, 1, status::kAcknowledge | status::kDriver);
        common(common_cfg::kDriverFeatureSelect, 4, 0);
        common(common_cfg::kDriverFeature, 4, static_cast<uint32_t>(features));
        common(common_cfg::kDriverFeatureSelect, 4, 1);
        common(common_cfg::kDriverFeature, 4, features >> 32);
        common(common_cfg::kDeviceStatus, 1, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
        uint16_t control_at = static_cast<uint16_t>(msix_capability + 2);
        uint32_t control = machine.config_read(slot, control_at, 2);
        machine.config_write(slot, control_at, 2, control | pci::msix_control::kEnable | pci::msix_control::kFunctionMask);
        for (uint16_t vector = 0; vector < 3; ++vector) {
            machine.mmio_write(entry(vector) + 0, 4, 0xfee00000);
            machine.mmio_write(entry(vector) + 4, 4, 0);
            machine.mmio_write(entry(vector) + 8, 4, 0x40 + vector);
            machine.mmio_write(entry(vector) + 12, 4, 0);
        }
        machine.config_write(slot, control_at, 2, (control | pci::msix_control::kEnable) & ~pci::msix_control::kFunctionMask);
        common(common_cfg::kConfigMsixVector, 2, 0);
        for (uint16_t q = 0; q < 2; ++q) {
            common(common_cfg::kQueueSelect, 2, q);
            common(common_cfg::kQueueSize, 2, rings[q].size);
            common(common_cfg::kQueueMsixVector, 2, vectors[q]);
            common(common_cfg::kQueueDescriptor, 8, rings[q].descriptors);
            common(common_cfg::kQueueDriver, 8, rings[q].driver);
            common(common_cfg::kQueueDevice, 8, rings[q].device);
            common(common_cfg::kQueueEnable, 2, 1);
        }
        common(common_cfg::kDeviceStatus, 1,
               status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk);
    }
    std::vector<int> kick_fds() {
        // The transport's ioeventfds, as registered on the notify region.
        std::vector<int> fds(2, -1);
        for (const auto& [fd, address, length, datamatch] : ioevents->registered) {
            uint64_t queue = (address - (bar + pci_bar::kNotify)) / pci_bar::kNotifyOffMultiplier;
            if (queue < 2) {
                fds[queue] = fd;
            }
        }
        return fds;
    }
};

}  // namespace

TEST_CASE("vhost-net over virtio-pci: call fds are the MSI-X irqfds, held while masked", "[vhost][net][pci]") {
    PciHarness harness;
    harness.bring_up(kDriverFeatures, {1, 2});
    REQUIRE((harness.status() & status::kDriverOk) != 0);
    REQUIRE((harness.status() & status::kDeviceNeedsReset) == 0);
    const pci::Msix& msix = harness.transport->msix();
    const uint64_t to_vhost = feature_bit(feature::kVersion1) | feature_bit(feature::kRingEventIdx) |
                              feature_bit(net_feature::kMrgRxbuf);
    std::vector<int> kicks = harness.kick_fds();
    CHECK(kicks[0] >= 0);
    CHECK(kicks[1] >= 0);
    std::vector<int> call_fds =
        check_set_up(harness.recorder, 1, harness.memory, to_vhost, harness.rings, kicks, harness.tap->fd());
    REQUIRE(call_fds.size() == 2);
    CHECK(call_fds[0] == msix.vector_fd(1));
    CHECK(call_fds[1] == msix.vector_fd(2));
    // The irqfd is KVM's: registered on the vector's GSI, with its route.
    CHECK(harness.routing->irqfds.at(msix.vector_gsi(1)) == call_fds[0]);
    CHECK(harness.routing->committed.contains(msix.vector_gsi(1)));

    // The guest masks queue 0's vector (Linux does around reprogramming it):
    // KVM lets go of the eventfd, so what vhost writes meanwhile is held,
    // shows in the PBA, and is delivered on unmask.
    harness.machine.mmio_write(harness.entry(1) + 12, 4, 1);
    CHECK_FALSE(harness.routing->irqfds.contains(msix.vector_gsi(1)));
    CHECK_FALSE(harness.routing->committed.contains(msix.vector_gsi(1)));
    signal_fd(call_fds[0]);  // vhost
    CHECK(harness.pba() == (1u << 1));
    CHECK(msix.pending(1));
    harness.machine.mmio_write(harness.entry(1) + 8, 4, 0x51);  // new data while masked
    harness.machine.mmio_write(harness.entry(1) + 12, 4, 0);
    CHECK(harness.routing->committed.at(msix.vector_gsi(1)).data == 0x51);
    CHECK(harness.routing->irqfds.at(msix.vector_gsi(1)) == call_fds[0]);
    CHECK(eventfd_count(call_fds[0]) == 1);  // re-delivered through the irqfd
    CHECK(harness.pba() == 0);

    // The function mask holds every vector the same way.
    uint16_t control_at = static_cast<uint16_t>(harness.msix_capability + 2);
    harness.machine.config_write(harness.slot, control_at, 2, pci::msix_control::kEnable | pci::msix_control::kFunctionMask);
    signal_fd(call_fds[1]);
    CHECK(harness.pba() == (1u << 2));
    harness.machine.config_write(harness.slot, control_at, 2, pci::msix_control::kEnable);
    CHECK(eventfd_count(call_fds[1]) == 1);

    // Reset and re-activation.
    size_t before_reset = harness.recorder.calls.size();
    harness.common(common_cfg::kDeviceStatus, 1, 0);
    check_tear_down(harness.recorder, before_reset);
    size_t before = harness.recorder.calls.size();
    harness.bring_up(kDriverFeatures, {2, 1});  // vectors swapped this time
    std::vector<int> again = check_set_up(harness.recorder, before, harness.memory, to_vhost, harness.rings,
                                          harness.kick_fds(), harness.tap->fd());
    REQUIRE(again.size() == 2);
    CHECK(again[0] == msix.vector_fd(2));
    CHECK(again[1] == msix.vector_fd(1));
}

TEST_CASE("vhost-net over virtio-pci: a queue without a vector gets a relay", "[vhost][net][pci]") {
    PciHarness harness;
    harness.bring_up(kDriverFeatures, {kNoVector, 2});
    REQUIRE((harness.status() & status::kDriverOk) != 0);
    const pci::Msix& msix = harness.transport->msix();
    auto calls = harness.recorder.of(abi::kSetVringCall);
    REQUIRE(calls.size() == 2);
    int relay = static_cast<int>(calls[0].value);
    CHECK(relay >= 0);
    for (uint16_t vector = 0; vector < 3; ++vector) {
        CHECK(relay != msix.vector_fd(vector));
    }
    CHECK(calls[1].value == msix.vector_fd(2));
    // The relay raises the ISR bit (what a polling driver looks at).
    signal_fd(relay);
    REQUIRE(harness.loop->run_once(100).ok());
    CHECK(harness.machine.mmio_read(harness.bar + pci_bar::kIsr, 1) == isr::kQueue);
}
