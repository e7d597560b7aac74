#include "devices/virtio/virtio_mmio.h"
#include "vmm/kvm_io_event_registrar.h"

#include "fake_virtio_device.h"

#include <catch2/catch.hpp>

#include <poll.h>
#include <unistd.h>

#include <array>
#include <cstring>
#include <optional>
#include <random>
#include <thread>

using namespace skiff;
using namespace skiff::virtio;

namespace {

constexpr GuestAddress kBase(0xd0001000);
constexpr uint64_t kHighMemory = uint64_t{1} << 32;
constexpr uint64_t kMemorySize = 1024 * 1024;

GuestMemory make_memory() {
    // A low region and one above 4 GiB, so that the high halves of queue
    // addresses matter.
    auto memory = GuestMemory::create({{GuestAddress(0), kMemorySize}, {GuestAddress(kHighMemory), kMemorySize}});
    REQUIRE(memory.ok());
    return std::move(memory).value();
}

class FakeDevice final : public skiff::testing::FakeVirtioDevice {
public:
    FakeDevice() {
        offered = feature_bit(feature::kVersion1) | feature_bit(feature::kRingEventIdx) | feature_bit(0) |
                  feature_bit(5);
        max_sizes = {256, 128};
        config = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12};
    }
};

struct Registration {
    int fd;
    uint64_t address;
    uint32_t length;
    uint64_t datamatch;
};

class RecordingRegistrar final : public IoEventRegistrar {
public:
    std::vector<Registration> registrations;
    bool fail = false;
    [[nodiscard]] Result<void> register_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                   uint64_t datamatch) override {
        if (fail) {
            return Error{"KVM_IOEVENTFD: no space left"};
        }
        registrations.push_back({event_fd, address, length, datamatch});
        return {};
    }
    [[nodiscard]] Result<void> unregister_mmio_write(int, uint64_t, uint32_t, uint64_t) override {
        return Error{"virtio-mmio never unregisters"};
    }
};

// Reads and clears an eventfd's counter without blocking.
uint64_t drain(int fd) {
    pollfd poll_fd{fd, POLLIN, 0};
    if (::poll(&poll_fd, 1, 0) != 1) {
        return 0;
    }
    uint64_t count = 0;
    REQUIRE(::read(fd, &count, sizeof(count)) == sizeof(count));
    return count;
}

uint32_t read32(BusDevice& device, uint64_t offset) {
    std::array<uint8_t, 4> bytes{0xaa, 0xaa, 0xaa, 0xaa};
    device.read(offset, bytes);
    uint32_t value = 0;
    std::memcpy(&value, bytes.data(), sizeof(value));
    return value;
}

void write32(BusDevice& device, uint64_t offset, uint32_t value) {
    std::array<uint8_t, 4> bytes{};
    std::memcpy(bytes.data(), &value, sizeof(value));
    device.write(offset, bytes);
}

uint64_t read_device_features(BusDevice& device) {
    write32(device, mmio::kDeviceFeaturesSel, 1);
    const uint64_t high = read32(device, mmio::kDeviceFeatures);
    write32(device, mmio::kDeviceFeaturesSel, 0);
    return (high << 32) | read32(device, mmio::kDeviceFeatures);
}

void write_driver_features(BusDevice& device, uint64_t features) {
    write32(device, mmio::kDriverFeaturesSel, 1);
    write32(device, mmio::kDriverFeatures, static_cast<uint32_t>(features >> 32));
    write32(device, mmio::kDriverFeaturesSel, 0);
    write32(device, mmio::kDriverFeatures, static_cast<uint32_t>(features));
}

void add_status(BusDevice& device, uint32_t bits) {
    write32(device, mmio::kStatus, read32(device, mmio::kStatus) | bits);
}

struct QueueLayout {
    uint32_t size;
    uint64_t descriptors;
    uint64_t driver;
    uint64_t device;
};

// Queue 0 in low memory, queue 1 above 4 GiB.
QueueLayout layout_for(uint32_t index, uint32_t size) {
    const uint64_t start = index == 0 ? 0x10000 : kHighMemory + 0x20000;
    return {size, start, start + 0x4000, start + 0x8000};
}

void set_up_queue(BusDevice& device, uint32_t index, const QueueLayout& layout) {
    write32(device, mmio::kQueueSel, index);
    REQUIRE(read32(device, mmio::kQueueReady) == 0);
    write32(device, mmio::kQueueNum, layout.size);
    write32(device, mmio::kQueueDescLow, static_cast<uint32_t>(layout.descriptors));
    write32(device, mmio::kQueueDescHigh, static_cast<uint32_t>(layout.descriptors >> 32));
    write32(device, mmio::kQueueDriverLow, static_cast<uint32_t>(layout.driver));
    write32(device, mmio::kQueueDriverHigh, static_cast<uint32_t>(layout.driver >> 32));
    write32(device, mmio::kQueueDeviceLow, static_cast<uint32_t>(layout.device));
    write32(device, mmio::kQueueDeviceHigh, static_cast<uint32_t>(layout.device >> 32));
    write32(device, mmio::kQueueReady, 1);
}

struct Fixture {
    GuestMemory memory = make_memory();
    std::shared_ptr<FakeDevice> device = std::make_shared<FakeDevice>();
    RecordingRegistrar registrar;
    std::shared_ptr<VirtioMmio> transport;

    Fixture() { create(); }
    void create() {
        auto created = VirtioMmio::create(device, memory, kBase, &registrar);
        REQUIRE(created.ok());
        transport = std::move(created).value();
    }

    // Linux's virtio_mmio probe and virtio core up to FEATURES_OK.
    void negotiate(uint64_t features) {
        BusDevice& mmio = *transport;
        write32(mmio, mmio::kStatus, 0);
        add_status(mmio, status::kAcknowledge);
        add_status(mmio, status::kDriver);
        write_driver_features(mmio, features);
        add_status(mmio, status::kFeaturesOk);
    }

    // The whole sequence to DRIVER_OK with both queues.
    void bring_up(uint64_t features, uint32_t size0 = 256, uint32_t size1 = 64) {
        negotiate(features);
        REQUIRE((read32(*transport, mmio::kStatus) & status::kFeaturesOk) != 0);
        set_up_queue(*transport, 0, layout_for(0, size0));
        set_up_queue(*transport, 1, layout_for(1, size1));
        add_status(*transport, status::kDriverOk);
    }
};

const uint64_t kVersion1 = feature_bit(feature::kVersion1);

// What the VMM passes (no /dev/kvm here: checked at compile time only).
static_assert(std::is_base_of_v<IoEventRegistrar, KvmIoEventRegistrar>);

}  // namespace

TEST_CASE("virtio-mmio identifies itself as version 2", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    CHECK(read32(mmio, mmio::kMagicValue) == 0x74726976);
    CHECK(read32(mmio, mmio::kVersion) == 2);
    CHECK(read32(mmio, mmio::kDeviceId) == 1);
    CHECK(read32(mmio, mmio::kVendorId) == 0x46464b53);
    CHECK(read32(mmio, mmio::kStatus) == 0);
    CHECK(read_device_features(mmio) == fixture.device->offered);
    write32(mmio, mmio::kDeviceFeaturesSel, 2);
    CHECK(read32(mmio, mmio::kDeviceFeatures) == 0);
    // Two queues; the third reads as maximum size 0.
    write32(mmio, mmio::kQueueSel, 0);
    CHECK(read32(mmio, mmio::kQueueNumMax) == 256);
    write32(mmio, mmio::kQueueSel, 1);
    CHECK(read32(mmio, mmio::kQueueNumMax) == 128);
    write32(mmio, mmio::kQueueSel, 2);
    CHECK(read32(mmio, mmio::kQueueNumMax) == 0);
    // No shared memory regions: length -1.
    CHECK(read32(mmio, mmio::kShmLenLow) == 0xffffffff);
    CHECK(read32(mmio, mmio::kShmLenHigh) == 0xffffffff);
}

TEST_CASE("virtio-mmio Linux-style initialisation activates the device with the rings written",
          "[virtio-mmio]") {
    Fixture fixture;
    const uint64_t features = kVersion1 | feature_bit(feature::kRingEventIdx) | feature_bit(5);
    fixture.bring_up(features, 256, 64);

    CHECK(read32(*fixture.transport, mmio::kStatus) ==
          (status::kAcknowledge | status::kDriver | status::kFeaturesOk | status::kDriverOk));
    REQUIRE(fixture.device->activations == 1);
    REQUIRE(fixture.device->activation.has_value());
    const Activation& activation = *fixture.device->activation;
    CHECK(activation.features == features);
    CHECK(activation.memory == &fixture.memory);
    CHECK(activation.interrupt != nullptr);
    CHECK(activation.needs_reset != nullptr);
    CHECK(fixture.device->accepted_features == std::vector<uint64_t>{features});
    REQUIRE(activation.queues.size() == 2);
    for (uint32_t index = 0; index < 2; ++index) {
        INFO("queue " << index);
        const QueueLayout expected = layout_for(index, index == 0 ? 256 : 64);
        const QueueConfig& config = activation.queues[index].queue.config();
        CHECK(config.size == expected.size);
        CHECK(config.max_size == (index == 0 ? 256 : 128));
        CHECK(config.ready);
        CHECK(config.descriptor_table.value() == expected.descriptors);
        CHECK(config.available_ring.value() == expected.driver);
        CHECK(config.used_ring.value() == expected.device);
        CHECK(activation.queues[index].kick_fd == fixture.transport->notification_fd(static_cast<uint16_t>(index)));
        CHECK(activation.queues[index].kick_fd >= 0);
    }
    // Each kick fd is an ioeventfd on QueueNotify matching its index.
    REQUIRE(fixture.registrar.registrations.size() == 2);
    for (uint32_t index = 0; index < 2; ++index) {
        const Registration& registration = fixture.registrar.registrations[index];
        CHECK(registration.fd == activation.queues[index].kick_fd);
        CHECK(registration.address == kBase.value() + 0x50);
        CHECK(registration.length == 4);
        CHECK(registration.datamatch == index);
    }
}

TEST_CASE("virtio-mmio fails creation when KVM refuses the ioeventfd or the device is malformed",
          "[virtio-mmio]") {
    GuestMemory memory = make_memory();
    auto device = std::make_shared<FakeDevice>();
    RecordingRegistrar registrar;
    registrar.fail = true;
    auto refused = VirtioMmio::create(device, memory, kBase, &registrar);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("KVM_IOEVENTFD"));

    device->max_sizes = {256, 100};
    CHECK_FALSE(VirtioMmio::create(device, memory, kBase, nullptr).ok());
    device->max_sizes = {0};
    CHECK_FALSE(VirtioMmio::create(device, memory, kBase, nullptr).ok());
    device->max_sizes = {256};
    CHECK_FALSE(VirtioMmio::create(device, memory, GuestAddress(UINT64_MAX - 0x10), nullptr).ok());
    CHECK_FALSE(VirtioMmio::create(nullptr, memory, kBase, nullptr).ok());
    // Without a registrar notifications only come as exits.
    CHECK(VirtioMmio::create(device, memory, kBase, nullptr).ok());
}

TEST_CASE("virtio-mmio feature negotiation refuses what was not offered", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;

    SECTION("an unoffered bit") {
        fixture.negotiate(kVersion1 | feature_bit(3));
        CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) == 0);
        CHECK(fixture.device->accepted_features.empty());
    }
    SECTION("an unoffered bit in the high half") {
        fixture.negotiate(kVersion1 | feature_bit(40));
        CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) == 0);
    }
    SECTION("no VERSION_1 (a legacy driver)") {
        fixture.negotiate(feature_bit(5));
        CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) == 0);
    }
    SECTION("the device refuses") {
        fixture.device->accept = false;
        fixture.negotiate(kVersion1 | feature_bit(0));
        CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) == 0);
        CHECK(fixture.device->accepted_features == std::vector<uint64_t>{kVersion1 | feature_bit(0)});
    }
    SECTION("a refused negotiation cannot reach DRIVER_OK") {
        fixture.negotiate(feature_bit(5));
        set_up_queue(mmio, 0, layout_for(0, 256));
        add_status(mmio, status::kDriverOk);
        CHECK((read32(mmio, mmio::kStatus) & status::kDriverOk) == 0);
        CHECK(fixture.device->activations == 0);
    }
    SECTION("accepted, then later writes to DriverFeatures are ignored") {
        fixture.negotiate(kVersion1);
        CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) != 0);
        write32(mmio, mmio::kDriverFeaturesSel, 0);
        write32(mmio, mmio::kDriverFeatures, 0xffffffff);
        set_up_queue(mmio, 0, layout_for(0, 256));
        add_status(mmio, status::kDriverOk);
        REQUIRE(fixture.device->activation.has_value());
        CHECK(fixture.device->activation->features == kVersion1);
    }
    SECTION("DRIVER_OK without FEATURES_OK is ignored") {
        write32(mmio, mmio::kStatus, status::kAcknowledge | status::kDriver);
        write_driver_features(mmio, kVersion1);
        set_up_queue(mmio, 0, layout_for(0, 256));
        add_status(mmio, status::kDriverOk);
        CHECK((read32(mmio, mmio::kStatus) & status::kDriverOk) == 0);
        CHECK(fixture.device->activations == 0);
    }
}

TEST_CASE("virtio-mmio status bits only accumulate until a reset", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    write32(mmio, mmio::kStatus, status::kAcknowledge | status::kDriver);
    write32(mmio, mmio::kStatus, status::kAcknowledge);  // clears DRIVER: not allowed
    CHECK(read32(mmio, mmio::kStatus) == (status::kAcknowledge | status::kDriver));
    // DEVICE_NEEDS_RESET is the device's to set, and unknown bits are dropped.
    write32(mmio, mmio::kStatus, status::kDeviceNeedsReset | 0x30 | status::kAcknowledge);
    CHECK(read32(mmio, mmio::kStatus) == (status::kAcknowledge | status::kDriver));
    write32(mmio, mmio::kStatus, status::kFailed);
    CHECK((read32(mmio, mmio::kStatus) & status::kFailed) != 0);
}

TEST_CASE("virtio-mmio reset clears everything", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    fixture.bring_up(kVersion1 | feature_bit(0));
    REQUIRE(fixture.device->activations == 1);
    Activation& activation = *fixture.device->activation;
    auto old_needs_reset = activation.needs_reset;
    activation.interrupt->signal_queue(0);
    activation.interrupt->signal_config();
    write32(mmio, mmio::kQueueNotify, 1);  // a notification pending on the kick fd
    write32(mmio, mmio::kQueueSel, 1);

    const int resets_before = fixture.device->resets;
    write32(mmio, mmio::kStatus, 0);
    CHECK(fixture.device->resets == resets_before + 1);
    CHECK(read32(mmio, mmio::kStatus) == 0);
    CHECK(read32(mmio, mmio::kInterruptStatus) == 0);
    CHECK(drain(fixture.transport->notification_fd(1)) == 0);
    // QueueSel back to 0, queues not ready and unprogrammed.
    CHECK(read32(mmio, mmio::kQueueNumMax) == 256);
    for (uint32_t index = 0; index < 2; ++index) {
        write32(mmio, mmio::kQueueSel, index);
        CHECK(read32(mmio, mmio::kQueueReady) == 0);
    }
    // A needs_reset from before the reset does not touch the new status.
    old_needs_reset("stale");
    CHECK(read32(mmio, mmio::kStatus) == 0);

    // Driver features were forgotten: FEATURES_OK without writing them again
    // lacks VERSION_1 and is refused.
    add_status(mmio, status::kAcknowledge | status::kDriver | status::kFeaturesOk);
    CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) == 0);

    // Queues must be programmed again: without it DRIVER_OK has no queues.
    write32(mmio, mmio::kStatus, 0);
    fixture.negotiate(kVersion1);
    add_status(mmio, status::kDriverOk);
    REQUIRE(fixture.device->activations == 2);
    CHECK(fixture.device->activation->queues.empty());

    // And the full sequence works again after a reset.
    fixture.bring_up(kVersion1 | feature_bit(5), 128, 128);
    REQUIRE(fixture.device->activations == 3);
    CHECK(fixture.device->activation->queues.size() == 2);
    CHECK(fixture.device->activation->features == (kVersion1 | feature_bit(5)));
}

TEST_CASE("virtio-mmio interrupt status, acknowledge and the irqfd", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    fixture.bring_up(kVersion1);
    std::shared_ptr<VirtioInterrupt> interrupt = fixture.device->activation->interrupt;
    const int irqfd = fixture.transport->interrupt_fd();
    CHECK(interrupt->queue_irqfd(0) == -1);
    CHECK(drain(irqfd) == 0);

    interrupt->signal_queue(1);
    CHECK(read32(mmio, mmio::kInterruptStatus) == 1);
    CHECK(drain(irqfd) == 1);
    const uint32_t generation = read32(mmio, mmio::kConfigGeneration);
    interrupt->signal_config();
    CHECK(read32(mmio, mmio::kInterruptStatus) == 3);
    CHECK(read32(mmio, mmio::kConfigGeneration) == generation + 1);
    // Every signal is an edge, even with the bit already set.
    interrupt->signal_queue(0);
    CHECK(drain(irqfd) == 2);

    write32(mmio, mmio::kInterruptAck, 1);
    CHECK(read32(mmio, mmio::kInterruptStatus) == 2);
    write32(mmio, mmio::kInterruptAck, 2);
    CHECK(read32(mmio, mmio::kInterruptStatus) == 0);
    // InterruptStatus is read-only.
    write32(mmio, mmio::kInterruptStatus, 3);
    CHECK(read32(mmio, mmio::kInterruptStatus) == 0);
}

TEST_CASE("virtio-mmio interrupt status survives signals racing acknowledgements", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    fixture.bring_up(kVersion1);
    std::shared_ptr<VirtioInterrupt> interrupt = fixture.device->activation->interrupt;
    constexpr int kSignals = 20000;
    std::thread data_path([&interrupt] {
        for (int count = 0; count < kSignals; ++count) {
            interrupt->signal_queue(0);
        }
        interrupt->signal_config();
    });
    // The driver acknowledges only the used-buffer bit; the config bit,
    // set once at the end, must never be lost to a concurrent acknowledge.
    while (read32(mmio, mmio::kConfigGeneration) == 0) {
        write32(mmio, mmio::kInterruptAck, 1);
    }
    data_path.join();
    CHECK((read32(mmio, mmio::kInterruptStatus) & 2) != 0);
    CHECK(drain(fixture.transport->interrupt_fd()) == kSignals + 1);
}

TEST_CASE("virtio-mmio needs_reset sets DEVICE_NEEDS_RESET and signals a config change", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    fixture.bring_up(kVersion1);
    drain(fixture.transport->interrupt_fd());
    fixture.device->activation->needs_reset("available index ran ahead");
    CHECK((read32(mmio, mmio::kStatus) & status::kDeviceNeedsReset) != 0);
    CHECK((read32(mmio, mmio::kStatus) & status::kDriverOk) != 0);
    CHECK((read32(mmio, mmio::kInterruptStatus) & 2) != 0);
    CHECK(drain(fixture.transport->interrupt_fd()) == 1);
    // A second report changes nothing more.
    fixture.device->activation->needs_reset("again");
    CHECK(drain(fixture.transport->interrupt_fd()) == 0);
    // Linux writes back the status it read: the bit stays.
    add_status(mmio, status::kFailed);
    CHECK((read32(mmio, mmio::kStatus) & status::kDeviceNeedsReset) != 0);
    write32(mmio, mmio::kStatus, 0);
    CHECK(read32(mmio, mmio::kStatus) == 0);
}

TEST_CASE("virtio-mmio notifications reach the kick fd only for running queues", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    const int kick0 = fixture.transport->notification_fd(0);
    const int kick1 = fixture.transport->notification_fd(1);

    // Before DRIVER_OK: ignored.
    write32(mmio, mmio::kQueueNotify, 0);
    fixture.negotiate(kVersion1);
    set_up_queue(mmio, 0, layout_for(0, 256));
    write32(mmio, mmio::kQueueNotify, 0);
    CHECK(drain(kick0) == 0);

    // Only queue 0 set up.
    add_status(mmio, status::kDriverOk);
    REQUIRE(fixture.device->activation.has_value());
    CHECK(fixture.device->activation->queues.size() == 1);
    write32(mmio, mmio::kQueueNotify, 0);
    write32(mmio, mmio::kQueueNotify, 0);
    CHECK(drain(kick0) == 2);
    write32(mmio, mmio::kQueueNotify, 1);  // exists, but not running
    write32(mmio, mmio::kQueueNotify, 2);  // does not exist
    write32(mmio, mmio::kQueueNotify, 0xffffffff);
    CHECK(drain(kick1) == 0);
    CHECK(drain(kick0) == 0);
    // Not a 4-byte access: not a notification.
    std::array<uint8_t, 2> half{0, 0};
    mmio.write(mmio::kQueueNotify, half);
    CHECK(drain(kick0) == 0);
}

TEST_CASE("virtio-mmio queue registers are fixed while ready and once running", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    fixture.negotiate(kVersion1);
    const QueueLayout layout = layout_for(0, 256);
    set_up_queue(mmio, 0, layout);
    // Ready: address and size writes are ignored...
    write32(mmio, mmio::kQueueDescLow, 0x50000);
    write32(mmio, mmio::kQueueNum, 16);
    // ...but the driver may withdraw readiness and reprogram.
    write32(mmio, mmio::kQueueSel, 1);
    set_up_queue(mmio, 1, layout_for(1, 64));
    write32(mmio, mmio::kQueueReady, 0);
    CHECK(read32(mmio, mmio::kQueueReady) == 0);
    write32(mmio, mmio::kQueueNum, 32);
    write32(mmio, mmio::kQueueReady, 1);
    // Queue registers of a queue that does not exist are ignored.
    write32(mmio, mmio::kQueueSel, 7);
    write32(mmio, mmio::kQueueNum, 16);
    write32(mmio, mmio::kQueueReady, 1);
    CHECK(read32(mmio, mmio::kQueueReady) == 0);
    add_status(mmio, status::kDriverOk);

    REQUIRE(fixture.device->activation.has_value());
    const auto& queues = fixture.device->activation->queues;
    REQUIRE(queues.size() == 2);
    CHECK(queues[0].queue.config().descriptor_table.value() == layout.descriptors);
    CHECK(queues[0].queue.size() == 256);
    CHECK(queues[1].queue.size() == 32);

    // Running: nothing changes, not even readiness.
    write32(mmio, mmio::kQueueSel, 0);
    write32(mmio, mmio::kQueueReady, 0);
    write32(mmio, mmio::kQueueNum, 8);
    CHECK(read32(mmio, mmio::kQueueReady) == 1);
    CHECK(fixture.device->activations == 1);
}

TEST_CASE("virtio-mmio rejects unusable queue sizes and layouts at DRIVER_OK", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    const uint32_t size = GENERATE(0u, 3u, 100u, 512u, 65535u, 65536u, 0xffffffffu);
    INFO("size " << size);
    fixture.negotiate(kVersion1);
    set_up_queue(mmio, 0, layout_for(0, size));
    drain(fixture.transport->interrupt_fd());
    add_status(mmio, status::kDriverOk);
    CHECK(fixture.device->activations == 0);
    const uint32_t device_status = read32(mmio, mmio::kStatus);
    CHECK((device_status & status::kDeviceNeedsReset) != 0);
    CHECK((read32(mmio, mmio::kInterruptStatus) & mmio::kInterruptConfigChange) != 0);
    CHECK(drain(fixture.transport->interrupt_fd()) == 1);
    // A reset recovers.
    write32(mmio, mmio::kStatus, 0);
    fixture.bring_up(kVersion1);
    CHECK(fixture.device->activations == 1);
}

TEST_CASE("virtio-mmio rejects rings outside guest memory and gaps between ready queues", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    fixture.negotiate(kVersion1);
    SECTION("ring outside memory") {
        QueueLayout layout = layout_for(0, 256);
        layout.device = kMemorySize - 8;
        set_up_queue(mmio, 0, layout);
    }
    SECTION("ring at the top of the address space") {
        QueueLayout layout = layout_for(0, 256);
        layout.descriptors = UINT64_MAX - 15;
        set_up_queue(mmio, 0, layout);
    }
    SECTION("queue 1 ready, queue 0 not") {
        set_up_queue(mmio, 1, layout_for(1, 64));
    }
    add_status(mmio, status::kDriverOk);
    CHECK(fixture.device->activations == 0);
    CHECK((read32(mmio, mmio::kStatus) & status::kDeviceNeedsReset) != 0);
}

TEST_CASE("virtio-mmio reports a failed activation as DEVICE_NEEDS_RESET", "[virtio-mmio]") {
    Fixture fixture;
    fixture.device->activation_error = "backend gone";
    fixture.bring_up(kVersion1);
    CHECK(fixture.device->activations == 1);
    CHECK((read32(*fixture.transport, mmio::kStatus) & status::kDeviceNeedsReset) != 0);
    CHECK((read32(*fixture.transport, mmio::kInterruptStatus) & 2) != 0);
}

TEST_CASE("virtio-mmio registers take aligned 32-bit accesses only", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    std::array<uint8_t, 8> bytes{};
    for (size_t size : {1, 2, 8}) {
        bytes.fill(0xaa);
        mmio.read(mmio::kMagicValue, std::span<uint8_t>(bytes.data(), size));
        for (size_t index = 0; index < size; ++index) {
            CHECK(bytes[index] == 0);
        }
    }
    bytes.fill(0xaa);
    mmio.read(0x2, std::span<uint8_t>(bytes.data(), 4));  // misaligned
    CHECK(bytes[0] == 0);
    // Writes: ignored.
    std::array<uint8_t, 1> one{status::kAcknowledge};
    mmio.write(mmio::kStatus, one);
    CHECK(read32(mmio, mmio::kStatus) == 0);
    std::array<uint8_t, 8> eight{status::kAcknowledge};
    mmio.write(mmio::kStatus, eight);
    CHECK(read32(mmio, mmio::kStatus) == 0);
    std::array<uint8_t, 4> four{status::kAcknowledge};
    mmio.write(mmio::kStatus + 1, four);
    CHECK(read32(mmio, mmio::kStatus) == 0);
    // Read-only registers ignore writes.
    write32(mmio, mmio::kMagicValue, 0);
    write32(mmio, mmio::kQueueNumMax, 0);
    CHECK(read32(mmio, mmio::kMagicValue) == mmio::kMagic);
    CHECK(read32(mmio, mmio::kQueueNumMax) == 256);
    // Reserved offsets read as zero.
    CHECK(read32(mmio, 0x0f0) == 0);
}

TEST_CASE("virtio-mmio device configuration takes 1, 2 and 4-byte accesses", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    std::array<uint8_t, 8> bytes{};
    mmio.read(mmio::kConfig + 1, std::span<uint8_t>(bytes.data(), 1));
    CHECK(bytes[0] == 2);
    mmio.read(mmio::kConfig + 2, std::span<uint8_t>(bytes.data(), 2));
    CHECK((bytes[0] == 3 && bytes[1] == 4));
    CHECK(read32(mmio, mmio::kConfig + 8) == 0x0c0b0a09);
    CHECK(read32(mmio, mmio::kConfig + 12) == 0);  // beyond config_size
    // 8 bytes: refused.
    bytes.fill(0xaa);
    mmio.read(mmio::kConfig, bytes);
    CHECK(bytes == std::array<uint8_t, 8>{});
    mmio.write(mmio::kConfig, std::array<uint8_t, 8>{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff});
    CHECK(fixture.device->config[0] == 1);
    // Writes reach the device.
    mmio.write(mmio::kConfig + 4, std::array<uint8_t, 2>{0x55, 0x66});
    CHECK(fixture.device->config[4] == 0x55);
    CHECK(fixture.device->config[5] == 0x66);
    // Past the window (the bus never sends this; the transport still copes).
    bytes.fill(0xaa);
    mmio.read(mmio::kWindowSize - 2, std::span<uint8_t>(bytes.data(), 4));
    CHECK(bytes[0] == 0);
    mmio.read(UINT64_MAX - 1, std::span<uint8_t>(bytes.data(), 4));
    CHECK(bytes[0] == 0);
}

TEST_CASE("virtio-mmio survives 100k random register accesses", "[virtio-mmio]") {
    Fixture fixture;
    BusDevice& mmio = *fixture.transport;
    std::mt19937_64 random(12345);
    const std::array<uint64_t, 24> registers{
        mmio::kMagicValue,    mmio::kDeviceFeatures,  mmio::kDeviceFeaturesSel, mmio::kDriverFeatures,
        mmio::kDriverFeaturesSel, mmio::kQueueSel,    mmio::kQueueNumMax,       mmio::kQueueNum,
        mmio::kQueueReady,    mmio::kQueueNotify,     mmio::kInterruptStatus,   mmio::kInterruptAck,
        mmio::kStatus,        mmio::kStatus,          mmio::kQueueDescLow,      mmio::kQueueDescHigh,
        mmio::kQueueDriverLow, mmio::kQueueDriverHigh, mmio::kQueueDeviceLow,   mmio::kQueueDeviceHigh,
        mmio::kConfigGeneration, mmio::kConfig,       mmio::kShmSel,            0x0f8};
    const std::array<uint32_t, 10> interesting{0, 1, 2, 3, 0x80, 0xffffffff, 0x10000, 15, 256, 0x7fff};
    int activations_seen = 0;
    for (int step = 0; step < 100000; ++step) {
        const uint64_t choice = random();
        uint64_t offset = registers[choice % registers.size()];
        if ((choice >> 8) % 16 == 0) {
            offset = (choice >> 12) % mmio::kWindowSize;
        }
        uint32_t value = (choice >> 20) % 2 == 0 ? interesting[(choice >> 24) % interesting.size()]
                                                 : static_cast<uint32_t>(choice >> 32);
        if (offset == mmio::kStatus && (choice >> 28) % 4 != 0) {
            // Mostly plausible status progressions, so that activation runs.
            value = read32(mmio, mmio::kStatus) | (uint32_t{1} << ((choice >> 30) % 8));
        }
        size_t size = (choice >> 40) % 8 == 0 ? size_t{1} << ((choice >> 44) % 4) : 4;
        if (offset > mmio::kWindowSize - size) {
            offset = mmio::kWindowSize - size;
        }
        std::array<uint8_t, 8> bytes{};
        std::memcpy(bytes.data(), &value, sizeof(value));
        if ((choice >> 50) % 2 == 0) {
            mmio.write(offset, std::span<const uint8_t>(bytes.data(), size));
        } else {
            mmio.read(offset, std::span<uint8_t>(bytes.data(), size));
        }
        if ((choice >> 54) % 1024 == 0) {
            // Now and then a proper negotiation, so that the random queue
            // writes and DRIVER_OK that follow can activate the device.
            fixture.negotiate(kVersion1 | ((choice >> 56) % 2 == 0 ? feature_bit(feature::kRingEventIdx) : 0));
        }
        if (fixture.device->activation && (choice >> 52) % 64 == 0) {
            fixture.device->activation->interrupt->signal_queue(0);
            fixture.device->activation->needs_reset("random");
        }
        if (fixture.device->activations > activations_seen) {
            activations_seen = fixture.device->activations;
            // Activation only ever follows a successful negotiation.
            CHECK((read32(mmio, mmio::kStatus) & status::kFeaturesOk) != 0);
        }
        const uint32_t device_status = read32(mmio, mmio::kStatus);
        REQUIRE((device_status & ~0xffu) == 0);
        REQUIRE((read32(mmio, mmio::kInterruptStatus) & ~3u) == 0);
    }
    INFO("activations " << fixture.device->activations << ", resets " << fixture.device->resets);
    CHECK(fixture.device->resets > 0);
    CHECK(fixture.device->activations > 0);
    // Whatever happened, a reset and a proper initialisation still work.
    drain(fixture.transport->interrupt_fd());
    const int before = fixture.device->activations;
    fixture.bring_up(kVersion1);
    CHECK(fixture.device->activations == before + 1);
}

TEST_CASE("virtio-mmio kernel command-line word", "[virtio-mmio]") {
    CHECK(mmio_command_line_word(GuestAddress(0xd0001000), 0x1000, 5) == "virtio_mmio.device=4K@0xd0001000:5");
    CHECK(mmio_command_line_word(GuestAddress(0xd0000000), 0x200, 12) == "virtio_mmio.device=512@0xd0000000:12");
    CHECK(mmio_command_line_word(GuestAddress(0x100000000), 0x100000, 33) ==
          "virtio_mmio.device=1024K@0x100000000:33");
}
