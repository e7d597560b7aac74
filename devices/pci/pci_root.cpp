#include "devices/pci/pci_root.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <mutex>

namespace skiff::pci {

namespace {

// 00:00.0: a host bridge with no BARs, there so that Linux trusts
// configuration mechanism #1 and so that bus 0 looks like a PC's.
class HostBridge final : public PciDevice {
public:
    HostBridge()
        : config_(Identity{.vendor_id = kHostBridgeVendorId,
                           .device_id = kHostBridgeDeviceId,
                           .revision = 0,
                           .class_code = kHostBridgeClass,
                           .subsystem_vendor_id = 0,
                           .subsystem_id = 0}) {}

    void config_read(uint16_t offset, std::span<uint8_t> data) override {
        std::lock_guard lock(mutex_);
        config_.read(offset, data);
    }
    void config_write(uint16_t offset, std::span<const uint8_t> data) override {
        std::lock_guard lock(mutex_);
        config_.write(offset, data);
    }
    [[nodiscard]] std::vector<Bar> bars() const override { return {}; }
    void assign_bar(uint8_t, uint64_t) override {}
    void bar_read(uint8_t, uint64_t, std::span<uint8_t> data) override { std::ranges::fill(data, 0xff); }
    void bar_write(uint8_t, uint64_t, std::span<const uint8_t>) override {}
    [[nodiscard]] std::string_view name() const override { return "host bridge"; }

private:
    std::mutex mutex_;
    ConfigSpace config_;
};

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

bool window_contains(const MmioWindow& window, uint64_t base, uint64_t size) {
    uint64_t end = 0;
    return !__builtin_add_overflow(base, size, &end) && base >= window.start && end <= window.start + window.size;
}

}  // namespace

PciRoot::PciRoot(MmioWindow window) : window_(window), next_bar_address_(window.start) {
    slots_[kHostBridgeSlot].device = std::make_shared<HostBridge>();
}

Result<uint8_t> PciRoot::add_device(std::shared_ptr<PciDevice> device) {
    std::unique_lock lock(mutex_);
    auto free_slot = std::find_if(slots_.begin() + 1, slots_.end(), [](const Slot& slot) { return !slot.device; });
    if (free_slot == slots_.end()) {
        return Error::format("PCI bus 0 is full: no slot for {}", device->name());
    }
    // Place the BARs first so a failure leaves the bus as it was.
    uint64_t next = next_bar_address_;
    std::vector<std::pair<uint8_t, uint64_t>> placements;
    for (const Bar& bar : device->bars()) {
        uint64_t base = align_up(next, bar.size);
        if (base < next || !window_contains(window_, base, bar.size)) {
            return Error::format("PCI MMIO window {:#x}+{:#x} has no room for {}'s BAR {} ({:#x} bytes)",
                                 window_.start, window_.size, device->name(), bar.index, bar.size);
        }
        placements.emplace_back(bar.index, base);
        next = base + bar.size;
    }
    for (auto [index, base] : placements) {
        device->assign_bar(index, base);
    }
    next_bar_address_ = next;
    free_slot->device = std::move(device);
    update_decoding(*free_slot);
    auto slot = static_cast<uint8_t>(free_slot - slots_.begin());
    spdlog::debug("PCI 00:{:02x}.0: {}", slot, free_slot->device->name());
    return slot;
}

std::shared_ptr<PciDevice> PciRoot::device(uint8_t slot) const {
    std::shared_lock lock(mutex_);
    return slot < kSlotCount ? slots_[slot].device : nullptr;
}

void PciRoot::config_read(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset, std::span<uint8_t> data) {
    std::ranges::fill(data, 0xff);
    std::unique_lock lock(mutex_);
    if (bus != 0 || function != 0 || slot >= kSlotCount || !slots_[slot].device) {
        return;
    }
    PciDevice& device = *slots_[slot].device;
    size_t done = 0;
    while (done < data.size() && offset + done < kConfigSpaceSize) {
        uint64_t at = offset + done;
        size_t piece = std::min<size_t>(data.size() - done, 4 - at % 4);
        device.config_read(static_cast<uint16_t>(at), data.subspan(done, piece));
        done += piece;
    }
}

void PciRoot::config_write(uint8_t bus, uint8_t slot, uint8_t function, uint16_t offset,
                           std::span<const uint8_t> data) {
    std::unique_lock lock(mutex_);
    if (bus != 0 || function != 0 || slot >= kSlotCount || !slots_[slot].device) {
        return;
    }
    PciDevice& device = *slots_[slot].device;
    size_t done = 0;
    while (done < data.size() && offset + done < kConfigSpaceSize) {
        uint64_t at = offset + done;
        size_t piece = std::min<size_t>(data.size() - done, 4 - at % 4);
        device.config_write(static_cast<uint16_t>(at), data.subspan(done, piece));
        done += piece;
    }
    update_decoding(slots_[slot]);
}

void PciRoot::update_decoding(Slot& slot) {
    std::array<uint8_t, 2> command_bytes{};
    slot.device->config_read(config::kCommand, command_bytes);
    bool memory_enabled = (command_bytes[0] & command::kMemorySpace) != 0;
    bool changed = false;
    std::array<std::optional<uint64_t>, kBarCount> decoded{};
    for (const Bar& bar : slot.device->bars()) {
        if (bar.index < kBarCount && memory_enabled && window_contains(window_, bar.address, bar.size)) {
            decoded[bar.index] = bar.address;
        }
    }
    for (uint8_t index = 0; index < kBarCount; ++index) {
        if (decoded[index] != slot.decoded[index]) {
            std::optional<uint64_t> old_address = slot.decoded[index];
            slot.decoded[index] = decoded[index];
            changed = true;
            slot.device->bar_moved(index, old_address, decoded[index]);
        }
    }
    if (changed) {
        rebuild_decoded();
    }
}

void PciRoot::rebuild_decoded() {
    decoded_.clear();
    for (Slot& slot : slots_) {
        if (!slot.device) {
            continue;
        }
        for (const Bar& bar : slot.device->bars()) {
            if (bar.index < kBarCount && slot.decoded[bar.index]) {
                decoded_.push_back(DecodedBar{*slot.decoded[bar.index], bar.size, slot.device.get(), bar.index});
            }
        }
    }
}

const PciRoot::DecodedBar* PciRoot::find(uint64_t address, size_t size) const {
    // BARs may overlap when a guest programs them so; the first one wins,
    // as on a bus where the lowest slot answers first.
    for (const DecodedBar& decoded : decoded_) {
        if (address >= decoded.base && address - decoded.base < decoded.size &&
            size <= decoded.size - (address - decoded.base)) {
            return &decoded;
        }
    }
    return nullptr;
}

bool PciRoot::mmio_read(uint64_t address, std::span<uint8_t> data) const {
    std::shared_lock lock(mutex_);
    const DecodedBar* decoded = find(address, data.size());
    if (decoded == nullptr) {
        std::ranges::fill(data, 0xff);
        return false;
    }
    decoded->device->bar_read(decoded->bar, address - decoded->base, data);
    return true;
}

bool PciRoot::mmio_write(uint64_t address, std::span<const uint8_t> data) const {
    std::shared_lock lock(mutex_);
    const DecodedBar* decoded = find(address, data.size());
    if (decoded == nullptr) {
        return false;
    }
    decoded->device->bar_write(decoded->bar, address - decoded->base, data);
    return true;
}

void PciMmioWindow::read(uint64_t offset, std::span<uint8_t> data) {
    (void)root_->mmio_read(root_->window().start + offset, data);
}

void PciMmioWindow::write(uint64_t offset, std::span<const uint8_t> data) {
    (void)root_->mmio_write(root_->window().start + offset, data);
}

}  // namespace skiff::pci
