#include "devices/virtio/net/features.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/virtio/virtio_pci.h"
#include "fake_net_backend.h"
#include "test_pci_support.h"
#include "vmm/event_loop.h"

#include "fake_virtio_device.h"

#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <optional>
#include <atomic>
#include <random>
#include <thread>

using namespace skiff;
using namespace skiff::virtio;
using skiff::test::eventfd_count;
using skiff::test::FakeIoEventRegistrar;
using skiff::test::FakeMsiRouting;
using skiff::test::PciMachine;

namespace {

constexpr uint64_t kOfferedFeatures = feature_bit(feature::kVersion1) | feature_bit(0) | feature_bit(5) |
                                      feature_bit(feature::kRingEventIdx) | feature_bit(feature::kRingIndirectDesc);

class FakeDevice final : public skiff::testing::FakeVirtioDevice {
public:
    FakeDevice() {
        offered = kOfferedFeatures;
        max_sizes = {256, 256, 64};
        config = {0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x01, 0x00};
    }
};

// Where Linux's virtio_pci_modern finds things, found the way it finds them.
struct Capabilities {
    struct Region {
        uint8_t bar = 0xff;
        uint32_t offset = 0;
        uint32_t length = 0;
        uint8_t position = 0;
    };
    std::map<uint8_t, Region> by_type;  // the first capability of each cfg_type
    uint32_t notify_off_multiplier = 0;
    uint8_t msix = 0;
    int vendor_capabilities = 0;
};

Capabilities walk_capabilities(PciMachine& machine, uint8_t slot) {
    Capabilities found;
    REQUIRE((machine.config_read(slot, pci::config::kStatus, 2) & pci::status::kCapabilitiesList) != 0);
    // pci_find_capability: pointer masked to a dword, at most 48 steps.
    uint8_t position = static_cast<uint8_t>(machine.config_read(slot, pci::config::kCapabilitiesPointer, 1) & ~3u);
    for (int ttl = 48; ttl > 0 && position >= 0x40; --ttl) {
        uint8_t id = static_cast<uint8_t>(machine.config_read(slot, position, 1));
        if (id == 0xff) {
            break;
        }
        if (id == pci::capability_id::kVendorSpecific) {
            ++found.vendor_capabilities;
            uint8_t type = static_cast<uint8_t>(machine.config_read(slot, position + pci_cap::kTypeField, 1));
            uint8_t bar = static_cast<uint8_t>(machine.config_read(slot, position + pci_cap::kBarField, 1));
            if (bar < pci::kBarCount && !found.by_type.contains(type)) {
                found.by_type[type] = Capabilities::Region{
                    bar, machine.config_read(slot, position + pci_cap::kOffsetField, 4),
                    machine.config_read(slot, position + pci_cap::kLengthOfRegion, 4), position};
                if (type == pci_cap::kNotifyConfig) {
                    found.notify_off_multiplier = machine.config_read(slot, position + pci_cap::kNotifyMultiplierField, 4);
                }
            }
        } else if (id == pci::capability_id::kMsix) {
            found.msix = position;
        }
        position = static_cast<uint8_t>(machine.config_read(slot, position + 1, 1) & ~3u);
    }
    return found;
}

// vp_modern_map_capability's checks: long enough, aligned, inside the BAR.
void check_mappable(const Capabilities::Region& region, uint64_t bar_size, uint32_t minimum, uint32_t alignment) {
    CHECK(region.length >= minimum);
    CHECK(region.offset % alignment == 0);
    CHECK(uint64_t{region.offset} + minimum <= bar_size);
    CHECK(uint64_t{region.offset} + region.length <= bar_size);
}

struct Harness {
    GuestMemory memory = GuestMemory::create({{GuestAddress(0), 0x200000}}).value();
    std::shared_ptr<FakeMsiRouting> routing = std::make_shared<FakeMsiRouting>();
    std::shared_ptr<FakeIoEventRegistrar> ioevents = std::make_shared<FakeIoEventRegistrar>();
    std::shared_ptr<FakeDevice> device;  // null with a real device
    std::shared_ptr<VirtioDevice> virtio_device;
    std::shared_ptr<VirtioPci> transport;
    PciMachine machine;
    uint8_t slot = 0;
    uint64_t bar = 0;
    Capabilities capabilities;

    Harness() : device(std::make_shared<FakeDevice>()), virtio_device(device) { attach(); }
    explicit Harness(std::shared_ptr<VirtioDevice> real) : virtio_device(std::move(real)) { attach(); }

    void attach() {
        auto created = VirtioPci::create(virtio_device, memory, routing, ioevents.get());
        REQUIRE(created.ok());
        transport = *created;
        auto added = machine.root->add_device(transport);
        REQUIRE(added.ok());
        slot = *added;
        bar = machine.size_bar(slot, pci_bar::kIndex).first;
        machine.config_write(slot, pci::config::kCommand, 2, pci::command::kMemorySpace | pci::command::kBusMaster);
        capabilities = walk_capabilities(machine, slot);
    }

    uint64_t region(uint8_t type) { return bar + capabilities.by_type.at(type).offset; }
    uint64_t common(uint16_t field, size_t size) { return machine.mmio_read(region(1) + field, size); }
    void set_common(uint16_t field, size_t size, uint64_t value) { machine.mmio_write(region(1) + field, size, value); }
    uint8_t status() { return static_cast<uint8_t>(common(common_cfg::kDeviceStatus, 1)); }
    void set_status(uint8_t value) { set_common(common_cfg::kDeviceStatus, 1, value); }
    void add_status(uint8_t bits) { set_status(static_cast<uint8_t>(status() | bits)); }

    uint64_t device_features() {
        set_common(common_cfg::kDeviceFeatureSelect, 4, 0);
        uint64_t low = common(common_cfg::kDeviceFeature, 4);
        set_common(common_cfg::kDeviceFeatureSelect, 4, 1);
        return low | common(common_cfg::kDeviceFeature, 4) << 32;
    }
    void set_driver_features(uint64_t features) {
        set_common(common_cfg::kDriverFeatureSelect, 4, 0);
        set_common(common_cfg::kDriverFeature, 4, static_cast<uint32_t>(features));
        set_common(common_cfg::kDriverFeatureSelect, 4, 1);
        set_common(common_cfg::kDriverFeature, 4, features >> 32);
    }
    // Reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK; true if it stuck.
    bool negotiate(uint64_t features) {
        set_status(0);
        add_status(status::kAcknowledge);
        add_status(status::kDriver);
        set_driver_features(features);
        add_status(status::kFeaturesOk);
        return (status() & status::kFeaturesOk) != 0;
    }

    // Linux's MSI-X set-up: enable with the function masked, program every
    // entry (vector v: data 0x40 + v), unmask entries, unmask the function.
    void enable_msix() {
        uint16_t control_at = static_cast<uint16_t>(capabilities.msix + 2);
        uint32_t control = machine.config_read(slot, control_at, 2);
        machine.config_write(slot, control_at, 2, control | pci::msix_control::kEnable | pci::msix_control::kFunctionMask);
        uint16_t vectors = static_cast<uint16_t>((control & pci::msix_control::kTableSizeMask) + 1);
        for (uint16_t vector = 0; vector < vectors; ++vector) {
            uint64_t entry = bar + pci_bar::kMsixTable + 16 * uint64_t{vector};
            machine.mmio_write(entry + 0, 4, 0xfee00000);
            machine.mmio_write(entry + 4, 4, 0);
            machine.mmio_write(entry + 8, 4, 0x40 + vector);
            machine.mmio_write(entry + 12, 4, 0);
        }
        machine.config_write(slot, control_at, 2, control | pci::msix_control::kEnable);
    }

    static uint64_t descriptor_table(uint16_t queue) { return 0x10000 + 0x4000 * uint64_t{queue}; }
    static uint64_t driver_area(uint16_t queue) { return descriptor_table(queue) + 0x1000; }
    static uint64_t device_area(uint16_t queue) { return descriptor_table(queue) + 0x2000; }

    // vp_modern_setup_queue for queue `index`: two-part 64-bit writes, as
    // vp_iowrite64_twopart does.
    void setup_queue(uint16_t index, uint16_t size, uint16_t vector) {
        set_common(common_cfg::kQueueSelect, 2, index);
        set_common(common_cfg::kQueueSize, 2, size);
        set_common(common_cfg::kQueueMsixVector, 2, vector);
        for (auto [field, address] : {std::pair{common_cfg::kQueueDescriptor, descriptor_table(index)},
                                      std::pair{common_cfg::kQueueDriver, driver_area(index)},
                                      std::pair{common_cfg::kQueueDevice, device_area(index)}}) {
            set_common(field, 4, static_cast<uint32_t>(address));
            set_common(static_cast<uint16_t>(field + 4), 4, address >> 32);
        }
        set_common(common_cfg::kQueueEnable, 2, 1);
    }

    // The whole of Linux's probe: features, MSI-X, config vector 0, queue i
    // on vector i + 1 with `size` entries (or its maximum), DRIVER_OK.
    void initialise(uint16_t queues, uint16_t size = 128, uint64_t features = kOfferedFeatures) {
        REQUIRE(negotiate(features));
        enable_msix();
        set_common(common_cfg::kConfigMsixVector, 2, 0);
        REQUIRE(common(common_cfg::kConfigMsixVector, 2) == 0);
        for (uint16_t queue = 0; queue < queues; ++queue) {
            setup_queue(queue, std::min(size, virtio_device->queue_max_sizes()[queue]),
                        static_cast<uint16_t>(queue + 1));
            REQUIRE(common(common_cfg::kQueueMsixVector, 2) == queue + 1u);
        }
        add_status(status::kDriverOk);
    }

    uint64_t notify_address(uint16_t queue) {
        set_common(common_cfg::kQueueSelect, 2, queue);
        uint64_t notify_off = common(common_cfg::kQueueNotifyOff, 2);
        return region(pci_cap::kNotifyConfig) + notify_off * capabilities.notify_off_multiplier;
    }
};

}  // namespace

TEST_CASE("virtio-pci: identity and capabilities as Linux's virtio_pci_modern finds them", "[virtio][pci]") {
    Harness harness;
    PciMachine& machine = harness.machine;
    uint8_t slot = harness.slot;
    CHECK(machine.config_read(slot, pci::config::kVendorId, 2) == 0x1af4);
    CHECK(machine.config_read(slot, pci::config::kDeviceId, 2) == 0x1041);
    CHECK(machine.config_read(slot, pci::config::kRevisionId, 1) == 1);
    CHECK((machine.config_read(slot, pci::config::kRevisionId, 4) >> 8) == 0x020000);
    CHECK(machine.config_read(slot, pci::config::kSubsystemVendorId, 2) == 0x1af4);
    CHECK(machine.config_read(slot, pci::config::kHeaderType, 1) == 0);
    CHECK(machine.config_read(slot, pci::config::kInterruptPin, 1) == 0);

    auto [address, size] = machine.size_bar(slot, pci_bar::kIndex);
    CHECK(size == pci_bar::kSize);
    CHECK((machine.config_read(slot, pci::config::kBar0, 4) & 0x6) == pci::bar_flags::kMemory64);
    CHECK(address == harness.bar);
    CHECK(address % size == 0);

    const Capabilities& caps = harness.capabilities;
    CHECK(caps.vendor_capabilities == 5);
    for (uint8_t type = 1; type <= 5; ++type) {
        INFO("cfg_type " << int(type));
        REQUIRE(caps.by_type.contains(type));
        CHECK(caps.by_type.at(type).bar == 0);
    }
    // vp_modern_probe's minimum lengths and alignments.
    check_mappable(caps.by_type.at(pci_cap::kCommonConfig), size, 0x38, 4);
    check_mappable(caps.by_type.at(pci_cap::kIsrConfig), size, 1, 1);
    check_mappable(caps.by_type.at(pci_cap::kDeviceConfig), size, 0, 4);
    check_mappable(caps.by_type.at(pci_cap::kNotifyConfig), size, 2, 2);
    CHECK(caps.by_type.at(pci_cap::kDeviceConfig).length == 8);
    CHECK(caps.notify_off_multiplier == 4);
    // Every queue's notification address lies in the notify region.
    for (uint16_t queue = 0; queue < 3; ++queue) {
        uint64_t notify = harness.notify_address(queue);
        CHECK(notify + 2 <= harness.region(pci_cap::kNotifyConfig) + caps.by_type.at(pci_cap::kNotifyConfig).length);
    }
    CHECK(machine.config_read(slot, caps.by_type.at(pci_cap::kPciConfig).position + pci_cap::kLengthField, 1) == 20);

    // MSI-X: 3 queues + config = 4 vectors, table and PBA in BAR 0.
    REQUIRE(caps.msix != 0);
    uint32_t control = machine.config_read(slot, caps.msix + 2, 2);
    CHECK((control & pci::msix_control::kTableSizeMask) + 1 == 4);
    uint32_t table = machine.config_read(slot, caps.msix + 4, 4);
    uint32_t pba = machine.config_read(slot, caps.msix + 8, 4);
    CHECK((table & 7) == 0);
    CHECK((table & ~7u) + 4 * 16 <= size);
    CHECK((pba & 7) == 0);
    CHECK((pba & ~7u) + 8 <= size);
    CHECK(harness.common(common_cfg::kNumQueues, 2) == 3);
}

TEST_CASE("virtio-pci: feature negotiation", "[virtio][pci]") {
    Harness harness;
    FakeDevice& device = *harness.device;
    CHECK(harness.device_features() == kOfferedFeatures);
    harness.set_common(common_cfg::kDeviceFeatureSelect, 4, 2);
    CHECK(harness.common(common_cfg::kDeviceFeature, 4) == 0);

    SECTION("a subset with VERSION_1 is accepted") {
        uint64_t wanted = feature_bit(feature::kVersion1) | feature_bit(5);
        CHECK(harness.negotiate(wanted));
        REQUIRE(device.accepted_features.size() == 1);
        CHECK(device.accepted_features[0] == wanted);
        // Read back, and frozen once FEATURES_OK is set.
        harness.set_common(common_cfg::kDriverFeatureSelect, 4, 0);
        CHECK(harness.common(common_cfg::kDriverFeature, 4) == (1u << 5));
        harness.set_common(common_cfg::kDriverFeature, 4, 0xffffffff);
        CHECK(harness.common(common_cfg::kDriverFeature, 4) == (1u << 5));
        CHECK(harness.status() == (status::kAcknowledge | status::kDriver | status::kFeaturesOk));
    }
    SECTION("a feature that was not offered") {
        CHECK_FALSE(harness.negotiate(kOfferedFeatures | feature_bit(7)));
        CHECK(device.accepted_features.empty());
        CHECK(harness.status() == (status::kAcknowledge | status::kDriver));
    }
    SECTION("no VERSION_1 (a legacy driver)") {
        CHECK_FALSE(harness.negotiate(feature_bit(0)));
        CHECK(device.accepted_features.empty());
    }
    SECTION("the device refuses the combination") {
        device.accept = false;
        CHECK_FALSE(harness.negotiate(kOfferedFeatures));
        CHECK(device.accepted_features.size() == 1);
        // DRIVER_OK after a refused FEATURES_OK fails the device.
        harness.add_status(status::kDriverOk);
        CHECK((harness.status() & status::kDeviceNeedsReset) != 0);
        CHECK(device.activations == 0);
    }
    SECTION("driver feature select beyond 1 is ignored") {
        harness.set_status(status::kAcknowledge | status::kDriver);
        harness.set_common(common_cfg::kDriverFeatureSelect, 4, 5);
        harness.set_common(common_cfg::kDriverFeature, 4, 0xffffffff);
        CHECK(harness.common(common_cfg::kDriverFeature, 4) == 0);
        harness.set_common(common_cfg::kDriverFeatureSelect, 4, 0);
        CHECK(harness.common(common_cfg::kDriverFeature, 4) == 0);
    }
}

TEST_CASE("virtio-pci: initialisation to DRIVER_OK activates the device with the programmed queues",
          "[virtio][pci]") {
    Harness harness;
    FakeDevice& device = *harness.device;
    harness.initialise(3, 128);
    CHECK(harness.status() ==
          (status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk));
    REQUIRE(device.activation);
    const Activation& activation = *device.activation;
    CHECK(activation.features == kOfferedFeatures);
    CHECK(activation.memory == &harness.memory);
    REQUIRE(activation.queues.size() == 3);
    for (uint16_t queue = 0; queue < 3; ++queue) {
        const QueueConfig& config = activation.queues[queue].queue.config();
        CHECK(config.size == std::min<uint16_t>(128, device.max_sizes[queue]));
        CHECK(config.max_size == device.max_sizes[queue]);
        CHECK(config.descriptor_table.value() == Harness::descriptor_table(queue));
        CHECK(config.available_ring.value() == Harness::driver_area(queue));
        CHECK(config.used_ring.value() == Harness::device_area(queue));
        CHECK(activation.queues[queue].kick_fd == harness.transport->kick_fd(queue));
        CHECK(activation.queues[queue].kick_fd >= 0);
        // The queue's interrupt eventfd is its MSI-X vector's irqfd.
        CHECK(activation.interrupt->queue_irqfd(queue) == harness.transport->msix().vector_fd(queue + 1));
    }
    CHECK(harness.transport->activated());

    // Each queue's kick fd is an ioeventfd on its notification address,
    // 2 bytes wide (Linux's iowrite16), matching the queue index.
    std::set<FakeIoEventRegistrar::Registration> expected;
    for (uint16_t queue = 0; queue < 3; ++queue) {
        expected.insert({harness.transport->kick_fd(queue), harness.notify_address(queue), 2, queue});
    }
    CHECK(harness.ioevents->registered == expected);

    // MSI routes for all four vectors, data as programmed.
    CHECK(harness.routing->committed.size() == 4);
    for (uint16_t vector = 0; vector < 4; ++vector) {
        auto gsi = harness.transport->msix().vector_gsi(vector);
        REQUIRE(harness.routing->committed.contains(gsi));
        CHECK(harness.routing->committed[gsi].data == 0x40u + vector);
    }

    // A notification that exits to skiff (here: a 4-byte write, or another
    // value) reaches the kick fd; so does the 2-byte one when the ioeventfd
    // is not in the way.
    harness.machine.mmio_write(harness.notify_address(1), 4, 1);
    harness.machine.mmio_write(harness.notify_address(1), 2, 1);
    CHECK(eventfd_count(harness.transport->kick_fd(1)) == 2);
    CHECK(eventfd_count(harness.transport->kick_fd(0)) == 0);
    // Misaligned or out-of-range notifications are ignored.
    harness.machine.mmio_write(harness.region(pci_cap::kNotifyConfig) + 2, 2, 0);
    harness.machine.mmio_write(harness.region(pci_cap::kNotifyConfig) + 4 * 100, 2, 0);
    CHECK(eventfd_count(harness.transport->kick_fd(0)) == 0);
}

TEST_CASE("virtio-pci: optional trailing queues may stay disabled", "[virtio][pci]") {
    Harness harness;
    harness.initialise(2);  // like virtio-net without the control queue
    REQUIRE(harness.device->activation);
    CHECK(harness.device->activation->queues.size() == 2);
    CHECK(harness.ioevents->registered.size() == 2);
    // The third queue's notification goes nowhere.
    harness.machine.mmio_write(harness.notify_address(2), 2, 2);
    CHECK(eventfd_count(harness.transport->kick_fd(2)) == 0);
}

TEST_CASE("virtio-pci: bad queue set-ups fail activation with DEVICE_NEEDS_RESET", "[virtio][pci]") {
    Harness harness;
    FakeDevice& device = *harness.device;
    REQUIRE(harness.negotiate(kOfferedFeatures));
    harness.enable_msix();
    harness.set_common(common_cfg::kConfigMsixVector, 2, 0);
    harness.setup_queue(0, 128, 1);
    harness.setup_queue(1, 128, 2);

    SECTION("size not a power of two") {
        harness.setup_queue(1, 100, 2);
    }
    SECTION("size above the maximum") {
        harness.setup_queue(2, 128, 3);  // queue 2 offers 64
    }
    SECTION("size zero") {
        harness.setup_queue(0, 0, 1);
    }
    SECTION("an enabled queue after a disabled one") {
        harness.set_common(common_cfg::kQueueSelect, 2, 0);
        harness.set_common(common_cfg::kQueueEnable, 2, 0);
    }
    SECTION("rings outside guest memory") {
        harness.set_common(common_cfg::kQueueSelect, 2, 1);
        harness.set_common(common_cfg::kQueueDevice + 4, 4, 0x10);
    }
    SECTION("misaligned descriptor table") {
        harness.set_common(common_cfg::kQueueSelect, 2, 0);
        harness.set_common(common_cfg::kQueueDescriptor, 4, 0x10008);
    }
    SECTION("the device refuses to activate") {
        device.activation_error = "backend gone";
    }
    uint64_t config_vector_signals_before = eventfd_count(harness.transport->msix().vector_fd(0));
    CHECK(config_vector_signals_before == 0);
    harness.add_status(status::kDriverOk);
    CHECK((harness.status() & status::kDeviceNeedsReset) != 0);
    CHECK_FALSE(device.activation);
    CHECK_FALSE(harness.transport->activated());
    CHECK(harness.ioevents->registered.empty());
    // The driver hears about it through the configuration vector.
    CHECK(eventfd_count(harness.transport->msix().vector_fd(0)) == 1);
    CHECK((harness.machine.mmio_read(harness.region(pci_cap::kIsrConfig), 1) & isr::kConfig) != 0);

    // A reset and a correct set-up recover.
    device.activation_error.reset();
    harness.initialise(2);
    CHECK(device.activation);
    CHECK((harness.status() & status::kDeviceNeedsReset) == 0);
}

TEST_CASE("virtio-pci: queue registers: select range, vector validity, frozen after DRIVER_OK", "[virtio][pci]") {
    Harness harness;
    harness.set_status(status::kAcknowledge | status::kDriver);
    // Defaults after reset: size = max, vector = NO_VECTOR.
    harness.set_common(common_cfg::kQueueSelect, 2, 2);
    CHECK(harness.common(common_cfg::kQueueSize, 2) == 64);
    CHECK(harness.common(common_cfg::kQueueMsixVector, 2) == kNoVector);
    CHECK(harness.common(common_cfg::kQueueNotifyOff, 2) == 2);
    CHECK(harness.common(common_cfg::kConfigMsixVector, 2) == kNoVector);

    // Out-of-range select: reads zero, writes go nowhere.
    harness.set_common(common_cfg::kQueueSelect, 2, 3);
    CHECK(harness.common(common_cfg::kQueueSelect, 2) == 3);
    for (uint16_t field : {common_cfg::kQueueSize, common_cfg::kQueueMsixVector, common_cfg::kQueueEnable,
                           common_cfg::kQueueNotifyOff}) {
        harness.set_common(field, 2, 1);
        CHECK(harness.common(field, 2) == 0);
    }
    harness.set_common(common_cfg::kQueueDescriptor, 8, 0x123456789000ull);
    CHECK(harness.common(common_cfg::kQueueDescriptor, 8) == 0);

    // Vectors beyond the table read back as NO_VECTOR (4 vectors here).
    harness.set_common(common_cfg::kQueueSelect, 2, 0);
    harness.set_common(common_cfg::kQueueMsixVector, 2, 4);
    CHECK(harness.common(common_cfg::kQueueMsixVector, 2) == kNoVector);
    harness.set_common(common_cfg::kQueueMsixVector, 2, 3);
    CHECK(harness.common(common_cfg::kQueueMsixVector, 2) == 3);
    harness.set_common(common_cfg::kConfigMsixVector, 2, 0x1234);
    CHECK(harness.common(common_cfg::kConfigMsixVector, 2) == kNoVector);

    // A 64-bit field written as one 8-byte access and read in halves.
    harness.set_common(common_cfg::kQueueDriver, 8, 0x0000001234567000ull);
    CHECK(harness.common(common_cfg::kQueueDriver, 4) == 0x34567000);
    CHECK(harness.common(common_cfg::kQueueDriver + 4, 4) == 0x12);
    // Read-only fields ignore writes.
    harness.set_common(common_cfg::kNumQueues, 2, 9);
    CHECK(harness.common(common_cfg::kNumQueues, 2) == 3);
    harness.set_common(common_cfg::kDeviceFeature, 4, 0);
    harness.set_common(common_cfg::kDeviceFeatureSelect, 4, 0);
    CHECK(harness.common(common_cfg::kDeviceFeature, 4) == static_cast<uint32_t>(kOfferedFeatures));
    harness.set_common(common_cfg::kQueueNotifyOff, 2, 7);
    CHECK(harness.common(common_cfg::kQueueNotifyOff, 2) == 0);
    CHECK(harness.common(common_cfg::kQueueNotifyData, 2) == 0);
    CHECK(harness.common(common_cfg::kQueueReset, 2) == 0);

    harness.initialise(3);
    REQUIRE(harness.device->activation);
    harness.set_common(common_cfg::kQueueSelect, 2, 1);
    harness.set_common(common_cfg::kQueueSize, 2, 16);
    harness.set_common(common_cfg::kQueueDescriptor, 4, 0);
    harness.set_common(common_cfg::kQueueMsixVector, 2, kNoVector);
    harness.set_common(common_cfg::kQueueEnable, 2, 0);
    CHECK(harness.common(common_cfg::kQueueSize, 2) == 128);
    CHECK(harness.common(common_cfg::kQueueDescriptor, 8) == Harness::descriptor_table(1));
    CHECK(harness.common(common_cfg::kQueueMsixVector, 2) == 2);
    CHECK(harness.common(common_cfg::kQueueEnable, 2) == 1);
    // Setting DRIVER_OK again does not activate twice; clearing bits
    // other than by reset is not possible.
    harness.add_status(status::kDriverOk);
    harness.set_status(status::kAcknowledge);
    CHECK(harness.device->activations == 1);
    CHECK((harness.status() & status::kDriverOk) != 0);
}

TEST_CASE("virtio-pci: reset stops the device and clears the transport", "[virtio][pci]") {
    Harness harness;
    FakeDevice& device = *harness.device;
    harness.initialise(3);
    REQUIRE(device.activation);
    int resets = device.resets;
    // A kick left in the eventfd is not carried over a reset.
    harness.machine.mmio_write(harness.notify_address(0), 4, 0);

    harness.set_status(0);
    CHECK(device.resets == resets + 1);
    CHECK_FALSE(device.activation);
    CHECK(harness.status() == 0);
    CHECK(harness.ioevents->registered.empty());
    CHECK(eventfd_count(harness.transport->kick_fd(0)) == 0);
    CHECK(harness.common(common_cfg::kConfigMsixVector, 2) == kNoVector);
    for (uint16_t queue = 0; queue < 3; ++queue) {
        harness.set_common(common_cfg::kQueueSelect, 2, queue);
        CHECK(harness.common(common_cfg::kQueueSize, 2) == device.max_sizes[queue]);
        CHECK(harness.common(common_cfg::kQueueEnable, 2) == 0);
        CHECK(harness.common(common_cfg::kQueueMsixVector, 2) == kNoVector);
        CHECK(harness.common(common_cfg::kQueueDescriptor, 8) == 0);
        CHECK(harness.common(common_cfg::kQueueDriver, 8) == 0);
        CHECK(harness.common(common_cfg::kQueueDevice, 8) == 0);
    }
    harness.set_common(common_cfg::kDriverFeatureSelect, 4, 0);
    CHECK(harness.common(common_cfg::kDriverFeature, 4) == 0);
    // MSI-X is PCI function state, not virtio state: still enabled.
    CHECK((harness.transport->msix().message_control() & pci::msix_control::kEnable) != 0);
    // Notifications after reset are ignored.
    harness.machine.mmio_write(harness.notify_address(0), 4, 0);
    CHECK(eventfd_count(harness.transport->kick_fd(0)) == 0);

    // And the device can be brought up again.
    harness.initialise(3, 64);
    REQUIRE(device.activation);
    CHECK(device.activation->queues[0].queue.size() == 64);
    CHECK(harness.ioevents->registered.size() == 3);
}

TEST_CASE("virtio-pci: notifications before DRIVER_OK are ignored", "[virtio][pci]") {
    Harness harness;
    REQUIRE(harness.negotiate(kOfferedFeatures));
    harness.setup_queue(0, 128, kNoVector);
    harness.machine.mmio_write(harness.notify_address(0), 2, 0);
    harness.machine.mmio_write(harness.notify_address(0), 2, 0);
    CHECK(eventfd_count(harness.transport->kick_fd(0)) == 0);
    CHECK(harness.ioevents->registered.empty());
}

TEST_CASE("virtio-pci: moving the BAR moves the ioeventfds and the registers", "[virtio][pci]") {
    Harness harness;
    harness.initialise(2);
    uint64_t old_bar = harness.bar;
    uint64_t new_bar = 0xc4000000;
    uint16_t bar_register = pci::config::kBar0;
    harness.machine.config_write(harness.slot, bar_register, 4, static_cast<uint32_t>(new_bar));
    harness.bar = new_bar;
    std::set<FakeIoEventRegistrar::Registration> expected;
    for (uint16_t queue = 0; queue < 2; ++queue) {
        expected.insert({harness.transport->kick_fd(queue), harness.notify_address(queue), 2, queue});
    }
    CHECK(harness.ioevents->registered == expected);
    CHECK(harness.notify_address(0) >= new_bar);
    CHECK(harness.common(common_cfg::kNumQueues, 2) == 3);
    CHECK(harness.machine.mmio_read(old_bar + harness.capabilities.by_type.at(1).offset + common_cfg::kNumQueues, 2) ==
          0xffff);

    // Memory decoding off: no ioeventfds; back on: back again.
    harness.machine.config_write(harness.slot, pci::config::kCommand, 2, pci::command::kBusMaster);
    CHECK(harness.ioevents->registered.empty());
    harness.machine.config_write(harness.slot, pci::config::kCommand, 2,
                                 pci::command::kMemorySpace | pci::command::kBusMaster);
    CHECK(harness.ioevents->registered == expected);
}

TEST_CASE("virtio-pci: interrupts through MSI-X, the ISR and the PBA", "[virtio][pci]") {
    Harness harness;
    harness.initialise(3);
    REQUIRE(harness.device->activation);
    auto interrupt = harness.device->activation->interrupt;
    const pci::Msix& msix = harness.transport->msix();
    uint64_t isr_address = harness.region(pci_cap::kIsrConfig);

    interrupt->signal_queue(1);
    CHECK(eventfd_count(msix.vector_fd(2)) == 1);
    CHECK(eventfd_count(msix.vector_fd(1)) == 0);
    CHECK(harness.machine.mmio_read(isr_address, 1) == isr::kQueue);
    CHECK(harness.machine.mmio_read(isr_address, 1) == 0);  // reading acknowledged it

    uint64_t generation = harness.common(common_cfg::kConfigGeneration, 1);
    interrupt->signal_config();
    CHECK(eventfd_count(msix.vector_fd(0)) == 1);
    CHECK(harness.machine.mmio_read(isr_address, 1) == isr::kConfig);
    CHECK(harness.common(common_cfg::kConfigGeneration, 1) != generation);

    // Vector 3 (queue 2) masked by the driver: pending, then delivered on
    // unmask.
    uint64_t entry3 = harness.bar + pci_bar::kMsixTable + 3 * 16;
    harness.machine.mmio_write(entry3 + 12, 4, 1);
    interrupt->signal_queue(2);
    CHECK(eventfd_count(msix.vector_fd(3)) == 0);
    CHECK(harness.machine.mmio_read(harness.bar + pci_bar::kMsixPba, 8) == (1u << 3));
    harness.machine.mmio_write(entry3 + 12, 4, 0);
    CHECK(eventfd_count(msix.vector_fd(3)) == 1);
    CHECK(harness.machine.mmio_read(harness.bar + pci_bar::kMsixPba, 8) == 0);
    CHECK(harness.machine.mmio_read(entry3 + 8, 4) == 0x43);

    // Out-of-range queue: nothing. 
    interrupt->signal_queue(7);
    CHECK(interrupt->queue_irqfd(7) == -1);
}

TEST_CASE("virtio-pci: a queue without a vector raises only the ISR bit", "[virtio][pci]") {
    Harness harness;
    REQUIRE(harness.negotiate(kOfferedFeatures));
    harness.enable_msix();
    harness.setup_queue(0, 128, kNoVector);
    harness.add_status(status::kDriverOk);
    REQUIRE(harness.device->activation);
    auto interrupt = harness.device->activation->interrupt;
    CHECK(interrupt->queue_irqfd(0) == -1);
    interrupt->signal_queue(0);
    for (uint16_t vector = 0; vector < 4; ++vector) {
        CHECK(eventfd_count(harness.transport->msix().vector_fd(vector)) == 0);
    }
    CHECK(harness.machine.mmio_read(harness.region(pci_cap::kIsrConfig), 1) == isr::kQueue);
}

TEST_CASE("virtio-pci: a device that needs a reset says so through status and the config vector",
          "[virtio][pci]") {
    Harness harness;
    harness.initialise(2);
    REQUIRE(harness.device->activation);
    auto needs_reset = harness.device->activation->needs_reset;
    needs_reset("hostile ring");
    CHECK((harness.status() & status::kDeviceNeedsReset) != 0);
    CHECK(eventfd_count(harness.transport->msix().vector_fd(0)) == 1);

    // After a reset, the old activation's report is stale and ignored.
    harness.set_status(0);
    harness.initialise(2);
    needs_reset("late report");
    CHECK((harness.status() & status::kDeviceNeedsReset) == 0);
    // The driver cannot set DEVICE_NEEDS_RESET itself.
    harness.add_status(status::kDeviceNeedsReset);
    CHECK((harness.status() & status::kDeviceNeedsReset) == 0);
}

TEST_CASE("virtio-pci: device configuration and the PCI configuration access capability", "[virtio][pci]") {
    Harness harness;
    uint64_t device_config = harness.region(pci_cap::kDeviceConfig);
    CHECK(harness.machine.mmio_read(device_config, 4) == 0x12005452);
    CHECK(harness.machine.mmio_read(device_config + 4, 2) == 0x5634);
    harness.machine.mmio_write(device_config + 6, 2, 0xbeef);
    CHECK(harness.device->config[6] == 0xef);
    CHECK(harness.device->config[7] == 0xbe);
    CHECK(harness.machine.mmio_read(device_config + 8, 4) == 0);  // past config_size

    // Through the type-5 capability: read num_queues, write the status.
    PciMachine& machine = harness.machine;
    uint8_t cap = harness.capabilities.by_type.at(pci_cap::kPciConfig).position;
    auto access = [&](uint32_t offset, uint32_t length) {
        machine.config_write(harness.slot, cap + pci_cap::kBarField, 1, 0);
        machine.config_write(harness.slot, cap + pci_cap::kOffsetField, 4, offset);
        machine.config_write(harness.slot, cap + pci_cap::kLengthOfRegion, 4, length);
    };
    access(static_cast<uint32_t>(pci_bar::kCommonConfig + common_cfg::kNumQueues), 2);
    CHECK((machine.config_read(harness.slot, cap + pci_cap::kPciConfigDataField, 4) & 0xffff) == 3);
    access(static_cast<uint32_t>(pci_bar::kCommonConfig + common_cfg::kDeviceStatus), 1);
    machine.config_write(harness.slot, cap + pci_cap::kPciConfigDataField, 1, status::kAcknowledge);
    CHECK(harness.status() == status::kAcknowledge);
    // Invalid windows do nothing: bad length, misaligned, outside the BAR, other BAR.
    access(static_cast<uint32_t>(pci_bar::kCommonConfig + common_cfg::kDeviceStatus), 3);
    machine.config_write(harness.slot, cap + pci_cap::kPciConfigDataField, 4, 0);
    access(static_cast<uint32_t>(pci_bar::kCommonConfig + common_cfg::kNumQueues + 1), 2);
    machine.config_write(harness.slot, cap + pci_cap::kPciConfigDataField, 4, 0);
    access(0xfffffffc, 4);
    machine.config_write(harness.slot, cap + pci_cap::kPciConfigDataField, 4, 0);
    CHECK(harness.status() == status::kAcknowledge);
    machine.config_write(harness.slot, cap + pci_cap::kBarField, 1, 2);
    machine.config_write(harness.slot, cap + pci_cap::kPciConfigDataField, 4, 0);
    CHECK(harness.status() == status::kAcknowledge);
}

TEST_CASE("virtio-pci: hostile configuration and BAR traffic does not crash", "[virtio][pci][hostile]") {
    Harness harness;
    harness.initialise(3);
    std::mt19937_64 random(2024);
    const size_t sizes[] = {1, 2, 4, 8};
    auto interrupt = harness.transport->interrupt();
    for (int i = 0; i < 100000; ++i) {
        uint64_t value = random();
        // Sometimes a plausible value, so that states beyond reset are reached.
        if (random() % 4 == 0) {
            value &= 0xff;
        }
        switch (random() % 8) {
            case 0:
            case 1: {
                uint16_t offset = static_cast<uint16_t>(random() % 256);
                // Keep the BAR where the harness expects it most of the time.
                if (offset >= 0x10 && offset < 0x18 && random() % 8 != 0) {
                    break;
                }
                harness.machine.config_write(harness.slot, offset, sizes[random() % 3],
                                             static_cast<uint32_t>(value));
                break;
            }
            case 2:
                (void)harness.machine.config_read(harness.slot, static_cast<uint16_t>(random() % 256),
                                                  sizes[random() % 3]);
                break;
            case 3:
            case 4:
            case 5: {
                // Mostly the common configuration, also anywhere in the BAR.
                uint64_t offset = random() % 2 == 0 ? random() % 0x40 : random() % (pci_bar::kSize + 16);
                harness.machine.mmio_write(harness.bar + offset, sizes[random() % 4], value);
                break;
            }
            case 6:
                (void)harness.machine.mmio_read(harness.bar + random() % (pci_bar::kSize + 16), sizes[random() % 4]);
                break;
            default:
                if (random() % 16 == 0) {
                    // A driver racing through initialisation with whatever
                    // queue registers the storm left behind.
                    if (harness.negotiate(kOfferedFeatures)) {
                        harness.add_status(status::kDriverOk);
                    }
                } else if (random() % 2 == 0) {
                    interrupt->signal_queue(static_cast<uint16_t>(random() % 4));
                } else {
                    interrupt->signal_config();
                }
                break;
        }
        if (i % 5000 == 0) {
            // Put the BAR and decoding back so the BAR stays reachable.
            harness.machine.config_write(harness.slot, pci::config::kBar0, 4, static_cast<uint32_t>(harness.bar));
            harness.machine.config_write(harness.slot, pci::config::kBar0 + 4, 4, 0);
            harness.machine.config_write(harness.slot, pci::config::kCommand, 2, pci::command::kMemorySpace);
        }
    }
    INFO("activations during the storm: " << harness.device->activations);
    CHECK(harness.device->activations > 1);
    // Whatever happened, a clean set-up works afterwards.
    harness.machine.config_write(harness.slot, pci::config::kBar0, 4, static_cast<uint32_t>(harness.bar));
    harness.machine.config_write(harness.slot, pci::config::kBar0 + 4, 4, 0);
    harness.machine.config_write(harness.slot, pci::config::kCommand, 2, pci::command::kMemorySpace);
    harness.initialise(3);
    REQUIRE(harness.device->activation);
    CHECK(harness.device->activation->queues.size() == 3);
    CHECK(harness.ioevents->registered.size() == 3);
    CHECK(harness.machine.config_read(harness.slot, 0, 4) == 0x10411af4);
}

TEST_CASE("virtio-pci: the data path signals while the driver resets and reprograms", "[virtio][pci]") {
    Harness harness;
    harness.initialise(3);
    auto interrupt = harness.transport->interrupt();
    std::atomic<bool> stop{false};
    std::thread data_path([&] {
        uint16_t queue = 0;
        while (!stop) {
            interrupt->signal_queue(queue);
            queue = static_cast<uint16_t>((queue + 1) % 3);
            if (queue == 0) {
                interrupt->signal_config();
            }
        }
    });
    for (int round = 0; round < 200; ++round) {
        harness.set_status(0);
        harness.initialise(3);
        uint64_t entry = harness.bar + pci_bar::kMsixTable + 16 * uint64_t(round % 4);
        harness.machine.mmio_write(entry + 12, 4, 1);
        harness.machine.mmio_write(entry + 12, 4, 0);
    }
    stop = true;
    data_path.join();
    CHECK(harness.transport->activated());
    CHECK(harness.device->activations == 201);
}

TEST_CASE("virtio-pci: creation limits", "[virtio][pci]") {
    GuestMemory memory = GuestMemory::create({{GuestAddress(0), 0x10000}}).value();
    auto routing = std::make_shared<FakeMsiRouting>();
    auto device = std::make_shared<FakeDevice>();
    device->max_sizes.assign(pci_bar::kMaxQueues + 1, 256);
    CHECK_FALSE(VirtioPci::create(device, memory, routing, nullptr).ok());
    device->max_sizes.assign(pci_bar::kMaxQueues, 256);
    auto created = VirtioPci::create(device, memory, routing, nullptr);
    REQUIRE(created.ok());
    CHECK((*created)->msix().vector_count() == pci_bar::kMaxQueues + 1);
    routing->gsi_limit = 2;
    device->max_sizes.assign(2, 256);
    CHECK_FALSE(VirtioPci::create(device, memory, routing, nullptr).ok());
}

TEST_CASE("virtio-pci: virtio-net moves frames both ways through the transport", "[virtio][pci][net]") {
    auto loop = EventLoop::create();
    REQUIRE(loop.ok());
    auto backend = std::make_unique<skiff::testing::FakeNetBackend>();
    auto* host = backend.get();
    auto net = std::make_shared<VirtioNet>(VirtioNetOptions{.name = "net0", .mac = {2, 0, 0, 0, 0, 1}, .mtu = {}},
                                           std::move(backend), **loop);
    Harness harness(net);
    uint64_t features = feature_bit(feature::kVersion1) | feature_bit(net_feature::kMac);
    harness.initialise(2, 16, features);
    REQUIRE(harness.status() == (status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk));
    CHECK(harness.machine.mmio_read(harness.region(pci_cap::kDeviceConfig), 4) == 0x00000002);
    const pci::Msix& msix = harness.transport->msix();

    // Transmit: one chain (virtio-net header + 60-byte frame) on queue 1.
    const GuestMemory& memory = harness.memory;
    std::vector<uint8_t> frame(net::kVnetHeaderSize + 60);
    for (size_t i = net::kVnetHeaderSize; i < frame.size(); ++i) {
        frame[i] = static_cast<uint8_t>(i * 3);
    }
    REQUIRE(memory.write(GuestAddress(0x100000), std::as_bytes(std::span(frame))).ok());
    struct RawDescriptor {
        uint64_t address;
        uint32_t length;
        uint16_t flags;
        uint16_t next;
    };
    REQUIRE(memory.write_object(GuestAddress(Harness::descriptor_table(1)),
                                RawDescriptor{0x100000, static_cast<uint32_t>(frame.size()), 0, 0}).ok());
    REQUIRE(memory.write_object(GuestAddress(Harness::driver_area(1) + 4), uint16_t{0}).ok());
    REQUIRE(memory.write_object(GuestAddress(Harness::driver_area(1) + 2), uint16_t{1}).ok());
    harness.machine.mmio_write(harness.notify_address(1), 2, 1);  // the exit path: no KVM here
    REQUIRE((*loop)->run_once(1000).ok());
    std::vector<uint8_t> sent = host->take();
    CHECK(sent == frame);
    CHECK(memory.read_object<uint16_t>(GuestAddress(Harness::device_area(1) + 2)).value() == 1);
    CHECK(eventfd_count(msix.vector_fd(2)) == 1);  // queue 1's vector

    // Receive: a buffer on queue 0, a frame from the host.
    REQUIRE(memory.write_object(GuestAddress(Harness::descriptor_table(0)),
                                RawDescriptor{0x110000, 2048, ring::kDescriptorWrite, 0}).ok());
    REQUIRE(memory.write_object(GuestAddress(Harness::driver_area(0) + 4), uint16_t{0}).ok());
    REQUIRE(memory.write_object(GuestAddress(Harness::driver_area(0) + 2), uint16_t{1}).ok());
    harness.machine.mmio_write(harness.notify_address(0), 2, 0);
    host->inject(frame);
    for (int i = 0; i < 4 && memory.read_object<uint16_t>(GuestAddress(Harness::device_area(0) + 2)).value() == 0;
         ++i) {
        REQUIRE((*loop)->run_once(100).ok());
    }
    CHECK(memory.read_object<uint16_t>(GuestAddress(Harness::device_area(0) + 2)).value() == 1);
    CHECK(eventfd_count(msix.vector_fd(1)) == 1);  // queue 0's vector

    // Reset stops the data path: the device forgets its queues.
    harness.set_status(0);
    CHECK(harness.status() == 0);
}
