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
#include "tests/fuzz/fuzz_device.h"
#include "tests/fuzz/fuzz_memory.h"
#include "tests/fuzz/fuzz_support.h"

#include <array>
#include <cstring>

using namespace skiff;
using namespace skiff::virtio;
using skiff::fuzz::FuzzDevice;

namespace {

constexpr GuestAddress kMemoryStart(0);
constexpr uint64_t kMemorySize = 0x10000;
constexpr GuestAddress kBase(0xd0000000);
constexpr size_t kOperationSize = 7;
// Device configuration: 1-, 2- and 4-byte accesses inside the window.
constexpr fuzz::ConfigWindow kConfigWindow{.size = mmio::kWindowSize - mmio::kConfig,
                                           .access_sizes = (1u << 1) | (1u << 2) | (1u << 4)};

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
    fuzz::init_logging();
    (void)memory();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 1) {
        return 0;
    }
    FUZZ_CHECK(memory().fill(kMemoryStart, kMemorySize, std::byte{0}).ok());
    fuzz::Input input(data, size);
    auto device = std::make_shared<FuzzDevice>(input.byte(), memory(), kConfigWindow);
    NullRegistrar registrar;
    auto created = VirtioMmio::create(device, memory(), kBase, &registrar);
    FUZZ_CHECK(created.ok());
    VirtioMmio& transport = *created.value();

    while (input.remaining() >= kOperationSize) {
        const uint8_t operation = input.byte();
        const uint16_t offset_field = input.word();
        const uint32_t value = input.dword();
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
