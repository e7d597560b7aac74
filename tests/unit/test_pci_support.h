// Fakes and a small "machine" for the PCI and virtio-pci unit tests: the
// I/O and MMIO buses with the root complex on them, conf1 accessors as a
// guest would use them, and recording fakes of the KVM interfaces.
#pragma once

#include "devices/io_event_registrar.h"
#include "devices/pci/msi_routing.h"
#include "devices/pci/pci_config_io.h"
#include "devices/pci/pci_root.h"
#include "vmm/bus.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <tuple>

namespace skiff::test {

// Records the staged and committed MSI routes and the irqfds.
class FakeMsiRouting final : public pci::MsiRouting {
public:
    struct Route {
        uint64_t address;
        uint32_t data;
        bool operator==(const Route&) const = default;
    };

    Result<uint32_t> allocate_gsi() override {
        std::lock_guard lock(mutex);
        if (allocated.size() >= gsi_limit) {
            return Error{"fake: no GSI left"};
        }
        uint32_t gsi = 24;
        while (allocated.contains(gsi)) {
            ++gsi;
        }
        allocated.insert(gsi);
        return gsi;
    }
    void release_gsi(uint32_t gsi) override {
        std::lock_guard lock(mutex);
        allocated.erase(gsi);
        staged.erase(gsi);
    }
    void set_msi_route(uint32_t gsi, uint64_t address, uint32_t data) override {
        std::lock_guard lock(mutex);
        staged[gsi] = Route{address, data};
    }
    void remove_route(uint32_t gsi) override {
        std::lock_guard lock(mutex);
        staged.erase(gsi);
    }
    Result<void> commit() override {
        std::lock_guard lock(mutex);
        committed = staged;
        ++commits;
        return {};
    }
    Result<void> register_irqfd(int event_fd, uint32_t gsi) override {
        std::lock_guard lock(mutex);
        irqfds[gsi] = event_fd;
        return {};
    }
    Result<void> unregister_irqfd(int event_fd, uint32_t gsi) override {
        std::lock_guard lock(mutex);
        if (irqfds.contains(gsi) && irqfds[gsi] == event_fd) {
            irqfds.erase(gsi);
        }
        return {};
    }

    std::mutex mutex;
    size_t gsi_limit = 4000;
    std::set<uint32_t> allocated;
    std::map<uint32_t, Route> staged;
    std::map<uint32_t, Route> committed;
    std::map<uint32_t, int> irqfds;
    int commits = 0;
};

class FakeIoEventRegistrar final : public IoEventRegistrar {
public:
    using Registration = std::tuple<int, uint64_t, uint32_t, uint64_t>;  // fd, address, length, datamatch
    Result<void> register_mmio_write(int event_fd, uint64_t address, uint32_t length, uint64_t datamatch) override {
        std::lock_guard lock(mutex);
        if (!registered.insert({event_fd, address, length, datamatch}).second) {
            return Error{"fake: already registered"};
        }
        ++registrations;
        return {};
    }
    Result<void> unregister_mmio_write(int event_fd, uint64_t address, uint32_t length,
                                       uint64_t datamatch) override {
        std::lock_guard lock(mutex);
        if (registered.erase({event_fd, address, length, datamatch}) == 0) {
            return Error{"fake: not registered"};
        }
        return {};
    }
    std::mutex mutex;
    std::set<Registration> registered;
    int registrations = 0;
};

// How many times an eventfd was signalled since the last call (0 if never).
inline uint64_t eventfd_count(int fd) {
    uint64_t count = 0;
    if (::read(fd, &count, sizeof(count)) != static_cast<ssize_t>(sizeof(count))) {
        return 0;
    }
    return count;
}

inline uint32_t conf1_address(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset) {
    return 0x80000000u | (uint32_t{bus} << 16) | (uint32_t{slot} << 11) | (uint32_t{function} << 8) |
           (offset & 0xfcu);
}

// The root complex on port and MMIO buses, driven as a guest drives it.
struct PciMachine {
    PciMachine() : root(std::make_shared<pci::PciRoot>()), io("io"), mmio("mmio") {
        (void)io.insert(std::make_shared<pci::PciConfigIo>(root), pci::kConfigAddressPort, pci::kConfigPortCount);
        (void)mmio.insert(std::make_shared<pci::PciMmioWindow>(root), root->window().start, root->window().size);
    }

    uint64_t port_in(uint16_t port, size_t size) {
        uint8_t bytes[4] = {};
        io.read(port, std::span(bytes, size));
        uint64_t value = 0;
        for (size_t i = 0; i < size; ++i) {
            value |= uint64_t{bytes[i]} << (8 * i);
        }
        return value;
    }
    void port_out(uint16_t port, size_t size, uint64_t value) {
        uint8_t bytes[4] = {};
        for (size_t i = 0; i < size; ++i) {
            bytes[i] = static_cast<uint8_t>(value >> (8 * i));
        }
        io.write(port, std::span<const uint8_t>(bytes, size));
    }
    // Linux's pci_conf1_read/write: address dword to 0xcf8, data at
    // 0xcfc + (offset & 3).
    uint32_t config_read(uint8_t slot, uint16_t offset, size_t size, uint8_t function = 0, uint8_t bus = 0) {
        port_out(0xcf8, 4, conf1_address(bus, slot, function, offset));
        return static_cast<uint32_t>(port_in(static_cast<uint16_t>(0xcfc + (offset & 3)), size));
    }
    void config_write(uint8_t slot, uint16_t offset, size_t size, uint32_t value, uint8_t function = 0) {
        port_out(0xcf8, 4, conf1_address(0, slot, function, offset));
        port_out(static_cast<uint16_t>(0xcfc + (offset & 3)), size, value);
    }

    uint64_t mmio_read(uint64_t address, size_t size) {
        uint8_t bytes[8] = {};
        mmio.read(address, std::span(bytes, size));
        uint64_t value = 0;
        for (size_t i = 0; i < size; ++i) {
            value |= uint64_t{bytes[i]} << (8 * i);
        }
        return value;
    }
    void mmio_write(uint64_t address, size_t size, uint64_t value) {
        uint8_t bytes[8] = {};
        for (size_t i = 0; i < size; ++i) {
            bytes[i] = static_cast<uint8_t>(value >> (8 * i));
        }
        mmio.write(address, std::span<const uint8_t>(bytes, size));
    }

    // Linux's __pci_read_base: decoding off, all ones, read back, restore.
    // Returns (address, size) of a memory BAR (64-bit ones included).
    std::pair<uint64_t, uint64_t> size_bar(uint8_t slot, uint8_t index) {
        uint16_t offset = static_cast<uint16_t>(0x10 + 4 * index);
        uint32_t command = config_read(slot, 0x04, 2);
        config_write(slot, 0x04, 2, command & ~0x3u);
        uint32_t low = config_read(slot, offset, 4);
        config_write(slot, offset, 4, 0xffffffff);
        uint32_t low_mask = config_read(slot, offset, 4);
        config_write(slot, offset, 4, low);
        uint64_t address = low & ~0xfull;
        uint64_t mask = low_mask & ~0xfull;
        if ((low & 0x6) == 0x4) {
            uint32_t high = config_read(slot, offset + 4, 4);
            config_write(slot, offset + 4, 4, 0xffffffff);
            uint32_t high_mask = config_read(slot, offset + 4, 4);
            config_write(slot, offset + 4, 4, high);
            address |= uint64_t{high} << 32;
            mask |= uint64_t{high_mask} << 32;
        } else {
            mask |= 0xffffffff00000000ull;
        }
        config_write(slot, 0x04, 2, command);
        return {address, mask == 0 ? 0 : ~mask + 1};
    }

    std::shared_ptr<pci::PciRoot> root;
    Bus io;
    Bus mmio;
};

}  // namespace skiff::test
