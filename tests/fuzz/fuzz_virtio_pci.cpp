// fuzz_virtio_pci: a guest's configuration-port and MMIO accesses, decoded
// from the input, against a PCI root complex holding the virtio-pci
// transport for a fake device whose data path pops real chains from the
// queues it is given. Whatever the guest does (moving or sizing the BAR,
// programming MSI-X, negotiating, resetting), skiff must not crash, and:
//   - the device is activated only with negotiated features (a subset of
//     the offered ones, VERSION_1 included), never twice without a reset,
//     with valid queues and their kick eventfds;
//   - the queue ioeventfds are registered exactly while the device is
//     active and its BAR decoded, at the BAR's current notification
//     addresses (2 bytes, datamatch = queue index), never twice, and every
//     unregistration matches a registration;
//   - MSI routes are only ever staged for GSIs the transport holds.
//
// Input: byte 0 shapes the device (bit 0 refuses features, bit 1 fails
// activation, bits 2-3 one to four queues), then 8-byte operations:
//   byte 0     bits 0-2: 0 port write, 1 port read, 2 window MMIO write,
//              3 window MMIO read, 4 BAR MMIO write, 5 BAR MMIO read,
//              6 device action, 7 guest memory write;
//              bits 3-4: access size 4, 1, 2, 8 (ports: 4, 1, 2, 4)
//   bytes 1-3  where, little endian:
//              ports: bit 23 set: a conf1 access as Linux makes it (the
//                address dword to 0xcf8, then data at 0xcfc + (register & 3))
//                with register bits 0-7, slot bits 8-12, function bits
//                13-15; bit 23 clear: port 0xcf8 + bits 0-2, raw
//              window MMIO: byte offset in the window (bits 0-16)
//              BAR MMIO: byte offset in the BAR (bits 0-14) from where
//                the guest last programmed it (skipped outside the window)
//              memory writes: byte offset in guest memory (bits 0-15)
//   bytes 4-7  value, little endian (zero-extended for 8-byte accesses)
#include "devices/pci/pci_config_io.h"
#include "devices/pci/pci_root.h"
#include "devices/virtio/virtio_pci.h"
#include "tests/fuzz/fuzz_device.h"
#include "tests/fuzz/fuzz_memory.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/unit/test_pci_support.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <set>
#include <tuple>

using namespace skiff;
using namespace skiff::virtio;
using skiff::fuzz::FuzzDevice;

namespace {

constexpr GuestAddress kMemoryStart(0);
constexpr uint64_t kMemorySize = 0x10000;
// A small window (four BAR-sized places) so that BAR moves stay reachable.
constexpr pci::MmioWindow kWindow{.start = 0xc0000000, .size = 0x20000};
constexpr size_t kOperationSize = 8;
// Device configuration: 1- to 8-byte accesses inside the BAR's region.
constexpr fuzz::ConfigWindow kConfigWindow{.size = pci_bar::kRegionSize, .access_sizes = 0x1fe};

const GuestMemory& memory() {
    static const GuestMemory instance = fuzz::make_guarded_memory(kMemoryStart, kMemorySize);
    return instance;
}

// Accepts every registration but treats a duplicate, or an unregistration
// of something never registered, as a transport bug.
class StrictRegistrar final : public IoEventRegistrar {
public:
    using Registration = std::tuple<int, uint64_t, uint32_t, uint64_t>;  // fd, address, length, datamatch
    [[nodiscard]] Result<void> register_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                   uint64_t datamatch) override {
        spdlog::debug("fuzz: ioeventfd {} at {:#x}/{} for {}", event_fd, address, length, datamatch);
        FUZZ_CHECK(registered.insert({event_fd, address, length, datamatch}).second);
        return {};
    }
    [[nodiscard]] Result<void> unregister_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                                     uint64_t datamatch) override {
        FUZZ_CHECK(registered.erase({event_fd, address, length, datamatch}) == 1);
        return {};
    }
    std::set<Registration> registered;
};

struct Machine {
    explicit Machine(uint8_t shape)
        : device(std::make_shared<FuzzDevice>(shape, memory(), kConfigWindow)),
          routing(std::make_shared<test::FakeMsiRouting>()),
          root(std::make_shared<pci::PciRoot>(kWindow)),
          ports(std::make_unique<pci::PciConfigIo>(root)),
          window(std::make_unique<pci::PciMmioWindow>(root)) {
        auto created = VirtioPci::create(device, memory(), routing, &registrar);
        FUZZ_CHECK(created.ok());
        transport = std::move(created).value();
        auto slot_or = root->add_device(transport);
        FUZZ_CHECK(slot_or.ok());
        slot = *slot_or;
    }

    // Where the guest last programmed the BAR, if the root decodes it there.
    [[nodiscard]] std::optional<uint64_t> decoded_bar() const {
        std::array<uint8_t, 2> command{};
        transport->config_read(pci::config::kCommand, command);
        auto bars = transport->bars();
        FUZZ_CHECK(bars.size() == 1 && bars[0].size == pci_bar::kSize);
        uint64_t base = bars[0].address;
        if ((command[0] & pci::command::kMemorySpace) == 0 || base < kWindow.start ||
            base - kWindow.start > kWindow.size - pci_bar::kSize) {
            return std::nullopt;
        }
        return base;
    }

    void check_invariants() {
        FUZZ_CHECK(transport->activated() == device->active());
        std::set<StrictRegistrar::Registration> expected;
        if (auto base = decoded_bar(); base && device->active()) {
            for (size_t i = 0; i < device->active_queues(); ++i) {
                expected.insert({transport->kick_fd(static_cast<uint16_t>(i)),
                                 *base + pci_bar::kNotify + i * pci_bar::kNotifyOffMultiplier, 2, i});
            }
        }
        FUZZ_CHECK(registrar.registered == expected);
        std::lock_guard lock(routing->mutex);
        for (const auto& [gsi, route] : routing->staged) {
            FUZZ_CHECK(routing->allocated.contains(gsi));
        }
    }

    std::shared_ptr<FuzzDevice> device;
    std::shared_ptr<test::FakeMsiRouting> routing;
    StrictRegistrar registrar;
    std::shared_ptr<pci::PciRoot> root;
    std::unique_ptr<pci::PciConfigIo> ports;
    std::unique_ptr<pci::PciMmioWindow> window;
    std::shared_ptr<VirtioPci> transport;
    uint8_t slot = 0;
};

void port_access(Machine& machine, bool is_write, uint32_t where, size_t size, uint32_t value) {
    std::array<uint8_t, 4> bytes{};
    uint64_t port = where & 7;
    if ((where & 0x800000) != 0) {
        const uint32_t address = 0x80000000u | (((where >> 8) & 0x1f) << 11) | (((where >> 13) & 7) << 8) |
                                 (where & 0xfc);
        std::memcpy(bytes.data(), &address, sizeof(address));
        machine.ports->write(0, bytes);
        port = 4 + (where & 3);
    }
    port = std::min<uint64_t>(port, pci::kConfigPortCount - size);  // the bus passes only accesses inside
    std::memcpy(bytes.data(), &value, sizeof(value));
    if (is_write) {
        machine.ports->write(port, std::span<const uint8_t>(bytes.data(), size));
        return;
    }
    bytes.fill(0xcc);
    machine.ports->read(port, std::span<uint8_t>(bytes.data(), size));
    uint32_t read_value = 0;
    std::memcpy(&read_value, bytes.data(), size);
    if ((where & 0x80ffff) == (0x800000 | (uint32_t{machine.slot} << 8)) && size == 4) {
        FUZZ_CHECK(read_value == (uint32_t{pci_ids::kModernDeviceBase + 1} << 16 | pci_ids::kVendor));
    }
}

void mmio_access(Machine& machine, bool is_write, uint64_t offset, size_t size, uint32_t value) {
    std::array<uint8_t, 8> bytes{};
    std::memcpy(bytes.data(), &value, sizeof(value));
    if (is_write) {
        machine.window->write(offset, std::span<const uint8_t>(bytes.data(), size));
        return;
    }
    bytes.fill(0xcc);
    machine.window->read(offset, std::span<uint8_t>(bytes.data(), size));
    if (auto base = machine.decoded_bar(); base && offset + kWindow.start == *base + pci_bar::kCommonConfig + common_cfg::kNumQueues &&
                                           size == 2) {
        uint16_t queues = 0;
        std::memcpy(&queues, bytes.data(), sizeof(queues));
        FUZZ_CHECK(queues == machine.device->queue_max_sizes().size());
    }
}

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
    {
        Machine machine(input.byte());
        while (input.remaining() >= kOperationSize) {
            const uint8_t operation = input.byte();
            const uint16_t where_low = input.word();
            const uint32_t where = where_low | (uint32_t{input.byte()} << 16);
            const uint32_t value = input.dword();
            const unsigned size_code = (operation >> 3) & 3;
            const size_t mmio_size = std::array<size_t, 4>{4, 1, 2, 8}[size_code];
            const size_t port_size = std::array<size_t, 4>{4, 1, 2, 4}[size_code];
            switch (operation & 7) {
                case 0:
                case 1: port_access(machine, (operation & 7) == 0, where, port_size, value); break;
                case 2:
                case 3: {
                    const uint64_t offset = std::min<uint64_t>(where & 0x1ffff, kWindow.size - mmio_size);
                    mmio_access(machine, (operation & 7) == 2, offset, mmio_size, value);
                    break;
                }
                case 4:
                case 5: {
                    auto bars = machine.transport->bars();
                    const uint64_t address = bars[0].address + std::min<uint64_t>(where & 0x7fff, pci_bar::kSize - mmio_size);
                    if (address >= kWindow.start && address - kWindow.start <= kWindow.size - mmio_size) {
                        mmio_access(machine, (operation & 7) == 4, address - kWindow.start, mmio_size, value);
                    }
                    break;
                }
                case 6: machine.device->action(value); break;
                case 7: {
                    const uint64_t address = where & 0xffff;
                    if (address + 4 <= kMemorySize) {
                        FUZZ_CHECK(memory().write_object(GuestAddress(address), value).ok());
                    }
                    break;
                }
            }
            machine.check_invariants();
        }
        // Tearing the transport down resets an active device and leaves
        // the ioeventfds as they are (KVM drops them with the VM; the
        // registrar may be gone by then).
        std::weak_ptr<VirtioPci> transport = machine.transport;
        const auto registered = machine.registrar.registered;
        machine.transport.reset();
        machine.ports.reset();
        machine.window.reset();
        machine.root.reset();
        FUZZ_CHECK(transport.expired());
        FUZZ_CHECK(machine.registrar.registered == registered);
        FUZZ_CHECK(!machine.device->active());
    }
    return 0;
}
