// fuzz_virtio_mmio: a driver's register reads and writes, decoded from the
// input, against the virtio-mmio transport with a fake device whose data
// path pops real chains from the queues it is given. Whatever the driver
// does, skiff must not crash, and the transport must keep its promises to
// the device: activation only with negotiated features (a subset of the
// offered ones, VERSION_1 included), never twice without a reset, with
// valid queues.
//
// Input: byte 0 shapes the device (bit 0 refuses features, bit 1 fails
// activation, bits 2-3 one to four queues), then 7-byte operations:
//   byte 0     bits 0-1: 0 register write, 1 register read, 2 device action,
//              3 guest memory write; bits 2-3 access size 4, 1, 2 or 8
//   bytes 1-2  offset, little endian: for register accesses bit 15 picks a
//              known register (bits 0-4 index the table below), else bits
//              0-11 are the raw offset; for memory writes the byte offset
//   bytes 3-6  value, little endian
#include "devices/virtio/virtio_mmio.h"
#include "tests/fuzz/fuzz_memory.h"

#include <spdlog/spdlog.h>

#include <array>
#include <bit>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>

using namespace skiff;
using namespace skiff::virtio;

namespace {

#define FUZZ_CHECK(condition)                                                                   \
    do {                                                                                        \
        if (!(condition)) {                                                                     \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

constexpr GuestAddress kMemoryStart(0);
constexpr uint64_t kMemorySize = 0x10000;
constexpr GuestAddress kBase(0xd0000000);
constexpr size_t kOperationSize = 7;

const GuestMemory& memory() {
    static const GuestMemory instance = fuzz::make_guarded_memory(kMemoryStart, kMemorySize);
    return instance;
}

constexpr std::array<uint64_t, 32> kRegisters{
    mmio::kMagicValue,      mmio::kVersion,          mmio::kDeviceId,        mmio::kVendorId,
    mmio::kDeviceFeatures,  mmio::kDeviceFeaturesSel, mmio::kDriverFeatures, mmio::kDriverFeaturesSel,
    mmio::kQueueSel,        mmio::kQueueNumMax,      mmio::kQueueNum,        mmio::kQueueReady,
    mmio::kQueueNotify,     mmio::kInterruptStatus,  mmio::kInterruptAck,    mmio::kStatus,
    mmio::kQueueDescLow,    mmio::kQueueDescHigh,    mmio::kQueueDriverLow,  mmio::kQueueDriverHigh,
    mmio::kQueueDeviceLow,  mmio::kQueueDeviceHigh,  mmio::kShmSel,          mmio::kShmLenLow,
    mmio::kShmBaseHigh,     mmio::kConfigGeneration, mmio::kConfig,          mmio::kConfig + 4,
    mmio::kConfig + 1,      mmio::kConfig + 2,       mmio::kConfig + 0xeff,  0x0c0};

class FuzzDevice final : public VirtioDevice {
public:
    static constexpr uint64_t kOffered = feature_bit(feature::kVersion1) | feature_bit(feature::kRingEventIdx) |
                                         feature_bit(feature::kRingIndirectDesc) | feature_bit(0) |
                                         feature_bit(5) | feature_bit(40);
    FuzzDevice(uint8_t shape)
        : refuse_(shape & 1),
          fail_activation_(shape & 2),
          max_sizes_{256, 16, 1, 1024},
          queue_count_(1 + ((shape >> 2) & 3)) {}

    [[nodiscard]] DeviceType device_type() const override { return DeviceType::Net; }
    [[nodiscard]] uint64_t device_features() const override { return kOffered; }
    [[nodiscard]] std::span<const uint16_t> queue_max_sizes() const override {
        return std::span<const uint16_t>(max_sizes_).first(queue_count_);
    }
    [[nodiscard]] uint32_t config_size() const override { return static_cast<uint32_t>(config_.size()); }
    void read_config(uint64_t offset, std::span<uint8_t> data) const override {
        for (size_t index = 0; index < data.size(); ++index) {
            data[index] = offset + index < config_.size() ? config_[offset + index] : 0;
        }
    }
    void write_config(uint64_t offset, std::span<const uint8_t> data) override {
        FUZZ_CHECK(data.size() == 1 || data.size() == 2 || data.size() == 4);
        FUZZ_CHECK(offset + data.size() <= mmio::kWindowSize - mmio::kConfig);
        for (size_t index = 0; index < data.size(); ++index) {
            if (offset + index < config_.size()) {
                config_[offset + index] = data[index];
            }
        }
    }
    [[nodiscard]] bool accept_features(uint64_t features) override {
        FUZZ_CHECK((features & ~kOffered) == 0);
        return !refuse_;
    }
    [[nodiscard]] Result<void> activate(Activation activation) override {
        FUZZ_CHECK(!activation_);  // never twice without a reset
        FUZZ_CHECK(!refuse_);
        FUZZ_CHECK((activation.features & ~kOffered) == 0);
        FUZZ_CHECK(has_feature(activation.features, feature::kVersion1));
        FUZZ_CHECK(activation.memory == &memory());
        FUZZ_CHECK(activation.interrupt && activation.needs_reset);
        FUZZ_CHECK(activation.queues.size() <= queue_count_);
        for (size_t index = 0; index < activation.queues.size(); ++index) {
            const Queue& queue = activation.queues[index].queue;
            FUZZ_CHECK(std::has_single_bit(queue.size()) && queue.size() <= max_sizes_[index]);
            FUZZ_CHECK(activation.queues[index].kick_fd >= 0);
        }
        if (fail_activation_) {
            return Error{"activation refused by the fuzz device"};
        }
        spdlog::debug("fuzz device: activated, features {:#x}, {} queues", activation.features,
                      activation.queues.size());
        activation_ = std::move(activation);
        return {};
    }
    void reset() override { activation_.reset(); }
    [[nodiscard]] std::string_view name() const override { return "fuzz0"; }

    // What a data path does on a notification: pop, "use", signal.
    void process(uint32_t which) {
        if (!activation_ || activation_->queues.empty()) {
            return;
        }
        const size_t index = which % activation_->queues.size();
        Queue& queue = activation_->queues[index].queue;
        DescriptorChain chain;
        for (int count = 0; count < 64; ++count) {
            auto more = queue.pop(memory(), chain);
            if (!more.ok()) {
                activation_->needs_reset(more.error().message);
                return;
            }
            if (!*more) {
                break;
            }
            spdlog::debug("fuzz device: queue {} chain {}: {} readable bytes, {} writable", index, chain.head(),
                          chain.readable_bytes(), chain.writable_bytes());
            for (const Descriptor& descriptor : chain.readable()) {
                FUZZ_CHECK(memory().contains(descriptor.address, descriptor.length));
            }
            for (const Descriptor& descriptor : chain.writable()) {
                FUZZ_CHECK(memory().contains(descriptor.address, descriptor.length));
            }
            queue.add_used(chain.head(), 0);
        }
        if (queue.needs_notification()) {
            activation_->interrupt->signal_queue(static_cast<uint16_t>(index));
        }
    }
    void action(uint32_t value) {
        if (!activation_) {
            return;
        }
        switch (value & 3) {
            case 0: process(value >> 8); break;
            case 1: activation_->interrupt->signal_queue(static_cast<uint16_t>(value >> 8)); break;
            case 2: activation_->interrupt->signal_config(); break;
            case 3: activation_->needs_reset("fuzz"); break;
        }
    }

private:
    bool refuse_;
    bool fail_activation_;
    std::array<uint16_t, 4> max_sizes_;
    size_t queue_count_;
    std::array<uint8_t, 24> config_{};
    std::optional<Activation> activation_;
};

class NullRegistrar final : public IoEventRegistrar {
public:
    [[nodiscard]] Result<void> register_mmio_write(int /*event_fd*/, uint64_t address, uint32_t length,
                                                   uint64_t /*datamatch*/) override {
        FUZZ_CHECK(address == kBase.value() + mmio::kQueueNotify && length == 4);
        return {};
    }
    [[nodiscard]] Result<void> unregister_mmio_write(int /*event_fd*/, uint64_t /*address*/, uint32_t /*length*/,
                                                     uint64_t /*datamatch*/) override {
        std::abort();  // the mmio transport never moves its notification address
    }
};

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    // SKIFF_FUZZ_LOG=debug shows what an input does (when replaying one).
    const char* level = std::getenv("SKIFF_FUZZ_LOG");
    spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::off);
    (void)memory();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) {
        return 0;
    }
    FUZZ_CHECK(memory().fill(kMemoryStart, kMemorySize, std::byte{0}).ok());
    auto device = std::make_shared<FuzzDevice>(data[0]);
    NullRegistrar registrar;
    auto created = VirtioMmio::create(device, memory(), kBase, &registrar);
    FUZZ_CHECK(created.ok());
    VirtioMmio& transport = *created.value();
    ++data;
    --size;

    for (; size >= kOperationSize; data += kOperationSize, size -= kOperationSize) {
        const uint8_t operation = data[0];
        const uint16_t offset_field = static_cast<uint16_t>(data[1] | (data[2] << 8));
        uint32_t value = 0;
        std::memcpy(&value, data + 3, sizeof(value));
        const size_t access_size = std::array<size_t, 4>{4, 1, 2, 8}[(operation >> 2) & 3];
        uint64_t offset = (offset_field & 0x8000) != 0 ? kRegisters[offset_field & 0x1f] : offset_field & 0xfff;
        // The bus only passes accesses inside the window.
        offset = std::min<uint64_t>(offset, mmio::kWindowSize - access_size);
        std::array<uint8_t, 8> bytes{};
        std::memcpy(bytes.data(), &value, sizeof(value));
        switch (operation & 3) {
            case 0: transport.write(offset, std::span<const uint8_t>(bytes.data(), access_size)); break;
            case 1: {
                bytes.fill(0xcc);
                transport.read(offset, std::span<uint8_t>(bytes.data(), access_size));
                uint32_t read_value = 0;
                std::memcpy(&read_value, bytes.data(), std::min<size_t>(access_size, 4));
                if (access_size == 4 && offset == mmio::kMagicValue) {
                    FUZZ_CHECK(read_value == mmio::kMagic);
                }
                if (access_size == 4 && offset == mmio::kInterruptStatus) {
                    FUZZ_CHECK((read_value & ~3u) == 0);
                }
                if (access_size == 8 || (offset < mmio::kConfig && offset % 4 != 0)) {
                    FUZZ_CHECK(read_value == 0);  // refused accesses read as zero
                }
                break;
            }
            case 2: device->action(value); break;
            case 3: {
                const uint64_t address = offset_field;
                if (address + 4 <= kMemorySize) {
                    FUZZ_CHECK(memory().write_object(GuestAddress(address), value).ok());
                }
                break;
            }
        }
    }
    return 0;
}
