#include "devices/vfio/vfio_pci_device.h"

#include "devices/vfio/vfio_abi.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <bit>
#include <set>

namespace skiff::vfio {

namespace {

using RawConfig = std::array<uint8_t, pci::kConfigSpaceSize>;

uint16_t raw16(const RawConfig& raw, size_t at) {
    return static_cast<uint16_t>(raw[at] | (raw[at + 1] << 8));
}

uint32_t raw32(const RawConfig& raw, size_t at) {
    return uint32_t{raw16(raw, at)} | (uint32_t{raw16(raw, at + 2)} << 16);
}

uint64_t align_down(uint64_t value) { return value & ~(kPageSize - 1); }
uint64_t align_up(uint64_t value) { return (value + kPageSize - 1) & ~(kPageSize - 1); }

// MSI capability layout (PCI Local Bus 3.0, 6.8.1).
namespace msi {
inline constexpr uint16_t kControl = 2;
inline constexpr uint16_t kAddressLow = 4;
inline constexpr uint16_t kAddressHigh = 8;  // 64-bit only
inline constexpr uint16_t kEnable = 1 << 0;
inline constexpr uint16_t kMultipleCapable = 0x7 << 1;
inline constexpr uint16_t kMultipleEnable = 0x7 << 4;
inline constexpr uint16_t k64Bit = 1 << 7;
inline constexpr uint16_t kPerVectorMask = 1 << 8;
uint16_t data_offset(bool wide) { return wide ? 12 : 8; }
uint16_t mask_offset(bool wide) { return wide ? 16 : 12; }
uint16_t length(bool wide, bool maskable) { return static_cast<uint16_t>(data_offset(wide) + (maskable ? 12 : 4)); }
}  // namespace msi

// Header bytes skiff answers itself.
constexpr uint16_t kHeaderTypeMultiFunction = 0x80;

}  // namespace

VfioPciDevice::VfioPciDevice(std::shared_ptr<VfioDevice> device, std::shared_ptr<pci::MsiRouting> routing,
                             std::shared_ptr<MemorySlots> slots, std::string name, const pci::Identity& identity)
    : device_(std::move(device)),
      routing_(std::move(routing)),
      slots_(std::move(slots)),
      name_(std::move(name)),
      shadow_(identity) {}

Result<std::shared_ptr<VfioPciDevice>> VfioPciDevice::create(std::shared_ptr<VfioDevice> device,
                                                             const GuestMemory& memory,
                                                             std::shared_ptr<pci::MsiRouting> routing,
                                                             std::shared_ptr<MemorySlots> slots, std::string name) {
    TRY(device->map_dma(memory));
    RawConfig raw{};
    TRY(device->read_region(abi::kConfigRegion, 0, raw).context_error(fmt::format("{}: configuration space", name)));
    pci::Identity identity{
        .vendor_id = raw16(raw, pci::config::kVendorId),
        .device_id = raw16(raw, pci::config::kDeviceId),
        .revision = raw[pci::config::kRevisionId],
        .class_code = raw32(raw, pci::config::kRevisionId) >> 8,
        .subsystem_vendor_id = raw16(raw, pci::config::kSubsystemVendorId),
        .subsystem_id = raw16(raw, pci::config::kSubsystemId),
    };
    std::shared_ptr<VfioPciDevice> result(
        new VfioPciDevice(std::move(device), std::move(routing), std::move(slots), std::move(name), identity));
    TRY(result->build(raw).context_error(result->name_));
    spdlog::info("{}: {:04x}:{:04x} class {:06x}, {} BAR(s), MSI-X {}, MSI {}", result->name_, identity.vendor_id,
                 identity.device_id, identity.class_code, result->bars_.size(),
                 result->msix_ ? fmt::format("{} vectors", result->msix_->vector_count()) : "none",
                 result->msi_capability_ != 0 ? "1 vector" : "none");
    return result;
}

VfioPciDevice::~VfioPciDevice() {
    std::lock_guard lock(mutex_);
    if (msix_wired_) {
        (void)device_->disable_irq(abi::kMsixIrq);
    }
    if (msi_.wired) {
        shadow_.set16(msi_capability_ + msi::kControl, 0);
        after_msi_write();
    }
    for (BarState& bar : bars_) {
        unmap_slots(bar);
    }
    msix_.reset();
}

void VfioPciDevice::emulate(uint64_t offset, uint64_t length) {
    for (uint64_t at = offset; at < offset + length && at < pci::kConfigSpaceSize; ++at) {
        emulated_[at] = true;
    }
}

Result<void> VfioPciDevice::build(const RawConfig& raw) {
    // Everything the function says, then skiff's own parts on top.
    for (size_t at = 0; at < raw.size(); ++at) {
        shadow_.set8(at, raw[at]);
    }
    shadow_.set16(pci::config::kCommand, 0);
    emulate(pci::config::kCommand, 2);
    shadow_.set8(pci::config::kHeaderType, static_cast<uint8_t>(raw[pci::config::kHeaderType] & ~kHeaderTypeMultiFunction));
    emulate(pci::config::kHeaderType, 1);
    for (uint16_t at = pci::config::kBar0; at < pci::config::kBar0 + 4 * pci::kBarCount; at += 4) {
        shadow_.set32(at, 0);
        shadow_.set_write_mask32(at, 0);
    }
    emulate(pci::config::kBar0, 4 * pci::kBarCount);
    shadow_.set32(kRomAddress, 0);
    shadow_.set_write_mask32(kRomAddress, 0);
    emulate(kRomAddress, 4);
    if (device_->region(abi::kRomRegion) != nullptr) {
        spdlog::debug("{}: expansion ROM hidden from the guest", name_);
    }
    emulate(pci::config::kCapabilitiesPointer, 1);
    shadow_.set8(pci::config::kInterruptPin, 0);  // no INTx
    emulate(pci::config::kInterruptLine, 2);

    TRY(add_bars(raw));
    TRY(add_capabilities(raw));
    for (BarState& bar : bars_) {
        TRY(map_bar_parts(bar));
    }
    return {};
}

Result<void> VfioPciDevice::add_bars(const RawConfig& raw) {
    for (uint8_t index = 0; index < pci::kBarCount; ++index) {
        const RegionInfo* region = device_->region(abi::kBar0Region + index);
        uint32_t low = raw32(raw, pci::config::kBar0 + 4u * index);
        bool wide = (low & 0x7) == pci::bar_flags::kMemory64;
        if (region == nullptr) {
            continue;
        }
        if ((low & 0x1) != 0) {
            spdlog::warn("{}: BAR {} is an I/O BAR ({} bytes); skiff passes through memory BARs only, so the guest "
                         "does not see it",
                         name_, index, region->size);
            continue;
        }
        uint64_t size = std::bit_ceil(std::max<uint64_t>(region->size, 16));
        TRY(shadow_.add_bar(index, size, wide ? pci::BarWidth::Bits64 : pci::BarWidth::Bits32,
                            (low & pci::bar_flags::kPrefetchable) != 0));
        bars_.push_back(BarState{.index = index, .size = size, .parts = {}});
        if (wide) {
            ++index;
        }
    }
    return {};
}

Result<void> VfioPciDevice::add_capabilities(const RawConfig& raw) {
    if ((raw16(raw, pci::config::kStatus) & pci::status::kCapabilitiesList) == 0) {
        return {};
    }
    uint16_t previous_pointer = pci::config::kCapabilitiesPointer;
    uint8_t offset = raw[pci::config::kCapabilitiesPointer] & 0xfc;
    std::set<uint8_t> seen;
    while (offset >= pci::config::kFirstCapability && seen.insert(offset).second) {
        uint8_t id = raw[offset];
        uint8_t next = raw[offset + 1u] & 0xfc;
        // The id and next pointer are skiff's: the chain stays as built.
        emulate(offset, 2);
        bool keep = true;
        if (id == pci_capability::kMsix) {
            TRY(setup_msix(offset));
        } else if (id == pci_capability::kMsi) {
            keep = device_->irq(abi::kMsiIrq) != nullptr;
            if (keep) {
                setup_msi(offset);
            } else {
                spdlog::debug("{}: MSI capability without VFIO MSI interrupts: hidden", name_);
            }
        }
        if (keep) {
            shadow_.set8(previous_pointer, offset);
            previous_pointer = offset + 1u;
        }
        shadow_.set8(previous_pointer, 0);
        offset = next;
    }
    return {};
}

Result<void> VfioPciDevice::setup_msix(uint8_t offset) {
    const IrqInfo* irq = device_->irq(abi::kMsixIrq);
    if (irq == nullptr) {
        return Error{"the function has an MSI-X capability but VFIO offers no MSI-X interrupts"};
    }
    uint16_t control = shadow_.read16(offset + pci::Msix::kMessageControlOffset);
    auto vectors = static_cast<uint16_t>((control & pci::msix_control::kTableSizeMask) + 1);
    uint32_t table = shadow_.read32(offset + 4u);
    uint32_t pba = shadow_.read32(offset + 8u);
    msix_ = TRY(pci::Msix::create(vectors, routing_));
    msix_capability_ = offset;
    msix_table_ = MsixArea{.bar = static_cast<uint8_t>(table & 7), .offset = table & ~7u, .size = msix_->table_size()};
    msix_pba_ = MsixArea{.bar = static_cast<uint8_t>(pba & 7), .offset = pba & ~7u, .size = msix_->pba_size()};
    for (const MsixArea* area : {&msix_table_, &msix_pba_}) {
        BarState* bar = find_bar(area->bar);
        if (bar == nullptr || area->offset > bar->size || area->size > bar->size - area->offset) {
            return Error::format("MSI-X table or PBA at BAR {} offset {:#x} is outside the function's BARs",
                                 area->bar, area->offset);
        }
    }
    // Enable and function mask start clear; only they are writable.
    shadow_.set16(offset + pci::Msix::kMessageControlOffset, control & pci::msix_control::kTableSizeMask);
    auto mask = pci::Msix::capability_write_mask();
    for (size_t i = 0; i < mask.size(); ++i) {
        shadow_.set_write_mask8(offset + i, i == 1 ? 0 : mask[i]);
    }
    emulate(offset, pci::kMsixCapabilityLength);
    if (irq->count < vectors) {
        spdlog::warn("{}: MSI-X table has {} vectors, VFIO offers {}: the rest never fire", name_, vectors,
                     irq->count);
    }
    return {};
}

void VfioPciDevice::setup_msi(uint8_t offset) {
    uint16_t control = shadow_.read16(offset + msi::kControl);
    msi_64bit_ = (control & msi::k64Bit) != 0;
    msi_maskable_ = (control & msi::kPerVectorMask) != 0;
    msi_capability_ = offset;
    // One vector: multiple-message capable and enable read 0.
    shadow_.set16(offset + msi::kControl,
                  static_cast<uint16_t>(control & ~(msi::kEnable | msi::kMultipleCapable | msi::kMultipleEnable)));
    uint16_t length = msi::length(msi_64bit_, msi_maskable_);
    for (uint16_t i = msi::kAddressLow; i < length; ++i) {
        shadow_.set8(offset + i, 0);
        shadow_.set_write_mask8(offset + i, 0);
    }
    shadow_.set_write_mask16(offset + msi::kControl, msi::kEnable);
    shadow_.set_write_mask32(offset + msi::kAddressLow, 0xfffffffc);
    if (msi_64bit_) {
        shadow_.set_write_mask32(offset + msi::kAddressHigh, 0xffffffff);
    }
    shadow_.set_write_mask16(offset + msi::data_offset(msi_64bit_), 0xffff);
    if (msi_maskable_) {
        shadow_.set_write_mask32(offset + msi::mask_offset(msi_64bit_), 1);
    }
    emulate(offset, length);
}

VfioPciDevice::BarState* VfioPciDevice::find_bar(uint8_t index) {
    for (BarState& bar : bars_) {
        if (bar.index == index) {
            return &bar;
        }
    }
    return nullptr;
}

Result<void> VfioPciDevice::map_bar_parts(BarState& bar) {
    const RegionInfo* region = device_->region(abi::kBar0Region + bar.index);
    if (region == nullptr || !region->mappable() || region->size < kPageSize) {
        return {};
    }
    std::vector<std::pair<uint64_t, uint64_t>> areas;  // [start, end)
    if (region->sparse_areas) {
        for (auto [offset, size] : *region->sparse_areas) {
            if (offset <= region->size && size <= region->size - offset) {
                areas.emplace_back(offset, offset + size);
            }
        }
    } else {
        areas.emplace_back(0, region->size);
    }
    // The pages of the MSI-X table and PBA stay trapped.
    for (const MsixArea* excluded : {&msix_table_, &msix_pba_}) {
        if (excluded->bar != bar.index || excluded->size == 0) {
            continue;
        }
        uint64_t start = align_down(excluded->offset);
        uint64_t end = align_up(excluded->offset + excluded->size);
        std::vector<std::pair<uint64_t, uint64_t>> kept;
        for (auto [area_start, area_end] : areas) {
            if (area_end <= start || area_start >= end) {
                kept.emplace_back(area_start, area_end);
                continue;
            }
            if (area_start < start) {
                kept.emplace_back(area_start, start);
            }
            if (area_end > end) {
                kept.emplace_back(end, area_end);
            }
        }
        areas = std::move(kept);
    }
    for (auto [area_start, area_end] : areas) {
        uint64_t start = align_up(area_start);
        uint64_t end = align_down(area_end);
        if (end <= start) {
            continue;
        }
        auto mapping = device_->map_region(region->index, start, end - start);
        if (!mapping.ok()) {
            spdlog::warn("{}: BAR {} {:#x}+{:#x} stays trapped (slower): {}", name_, bar.index, start, end - start,
                         mapping.error().message);
            continue;
        }
        bar.parts.push_back(Part{.offset = start, .size = end - start, .mapping = std::move(*mapping), .slot = {}});
    }
    return {};
}

std::vector<pci::Bar> VfioPciDevice::bars() const {
    std::lock_guard lock(mutex_);
    std::vector<pci::Bar> result;
    for (const BarState& bar : bars_) {
        if (auto declared = shadow_.bar(bar.index)) {
            result.push_back(*declared);
        }
    }
    return result;
}

void VfioPciDevice::assign_bar(uint8_t bar, uint64_t address) {
    std::lock_guard lock(mutex_);
    shadow_.set_bar_address(bar, address);
}

std::vector<VfioPciDevice::MappedPart> VfioPciDevice::mapped_parts() const {
    std::lock_guard lock(mutex_);
    std::vector<MappedPart> result;
    for (const BarState& bar : bars_) {
        for (const Part& part : bar.parts) {
            result.push_back(MappedPart{bar.index, part.offset, part.size, part.mapping.data()});
        }
    }
    return result;
}

void VfioPciDevice::config_read(uint16_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    bool any_passed = false;
    for (size_t i = 0; i < data.size(); ++i) {
        any_passed = any_passed || offset + i >= pci::kConfigSpaceSize || !emulated_[offset + i];
    }
    if (any_passed) {
        auto status = device_->read_region(abi::kConfigRegion, offset, data);
        if (!status.ok()) {
            std::ranges::fill(data, 0xff);
            warn_limited(status.error().message);
        }
    }
    for (size_t i = 0; i < data.size(); ++i) {
        if (offset + i < pci::kConfigSpaceSize && emulated_[offset + i]) {
            data[i] = shadow_.read8(offset + i);
        }
    }
}

void VfioPciDevice::config_write(uint16_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    size_t run_start = 0;
    auto flush = [&](size_t end) {
        if (end > run_start) {
            forward_config_write(static_cast<uint16_t>(offset + run_start), data.subspan(run_start, end - run_start));
        }
    };
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        if (at < pci::kConfigSpaceSize && emulated_[at]) {
            flush(i);
            run_start = i + 1;
            shadow_.write(at, data.subspan(i, 1));
        }
    }
    flush(data.size());

    auto touches = [&](uint64_t start, uint64_t length) {
        return offset < start + length && start < offset + data.size();
    };
    if (touches(pci::config::kCommand, 2)) {
        after_command_write();
    }
    if (msix_capability_ != 0 && touches(msix_capability_ + pci::Msix::kMessageControlOffset, 2)) {
        after_msix_write();
    }
    if (msi_capability_ != 0 && touches(msi_capability_, msi::length(msi_64bit_, msi_maskable_))) {
        after_msi_write();
    }
}

void VfioPciDevice::forward_config_write(uint16_t offset, std::span<const uint8_t> data) {
    auto status = device_->write_region(abi::kConfigRegion, offset, data);
    if (!status.ok()) {
        warn_limited(status.error().message);
    }
}

void VfioPciDevice::after_command_write() {
    uint16_t command = shadow_.command();
    std::array<uint8_t, 2> bytes{static_cast<uint8_t>(command), static_cast<uint8_t>(command >> 8)};
    forward_config_write(pci::config::kCommand, bytes);
}

void VfioPciDevice::after_msix_write() {
    uint16_t control = shadow_.read16(msix_capability_ + pci::Msix::kMessageControlOffset);
    msix_->set_message_control(control);
    bool enabled = (control & pci::msix_control::kEnable) != 0;
    if (enabled && !msix_wired_) {
        const IrqInfo* irq = device_->irq(abi::kMsixIrq);
        uint32_t count = std::min<uint32_t>(msix_->vector_count(), irq != nullptr ? irq->count : 0);
        // Masked or not: pci::Msix keeps what VFIO writes to a masked
        // vector's eventfd (pending bit) and delivers it at unmask.
        std::vector<int> fds;
        for (uint32_t index = 0; index < count; ++index) {
            fds.push_back(msix_->vector_fd(static_cast<uint16_t>(index)));
        }
        auto status = device_->set_irq_eventfds(abi::kMsixIrq, 0, fds);
        if (!status.ok()) {
            log_limited(warnings_, spdlog::level::warn, "{}: enabling MSI-X: {}", name_, status.error().message);
            return;
        }
        msix_wired_ = true;
    } else if (!enabled && msix_wired_) {
        auto status = device_->disable_irq(abi::kMsixIrq);
        if (!status.ok()) {
            log_limited(warnings_, spdlog::level::warn, "{}: disabling MSI-X: {}", name_, status.error().message);
        }
        msix_wired_ = false;
    }
}

void VfioPciDevice::after_msi_write() {
    uint16_t base = msi_capability_;
    bool enabled = (shadow_.read16(base + msi::kControl) & msi::kEnable) != 0;
    uint64_t address = shadow_.read32(base + msi::kAddressLow);
    if (msi_64bit_) {
        address |= uint64_t{shadow_.read32(base + msi::kAddressHigh)} << 32;
    }
    uint32_t data = shadow_.read16(base + msi::data_offset(msi_64bit_));
    bool masked = msi_maskable_ && (shadow_.read32(base + msi::mask_offset(msi_64bit_)) & 1) != 0;

    if (enabled && !msi_.wired) {
        auto event_fd = EventFd::create();
        auto gsi = event_fd.ok() ? routing_->allocate_gsi() : Result<uint32_t>(event_fd.error());
        if (!gsi.ok()) {
            log_limited(warnings_, spdlog::level::warn, "{}: enabling MSI: {}", name_, gsi.error().message);
            return;
        }
        msi_.event_fd = std::move(*event_fd);
        msi_.gsi = *gsi;
        auto status = routing_->register_irqfd(msi_.event_fd->fd(), *gsi);
        if (status.ok()) {
            std::array<int, 1> fds{msi_.event_fd->fd()};
            status = device_->set_irq_eventfds(abi::kMsiIrq, 0, fds);
            if (!status.ok()) {
                (void)routing_->unregister_irqfd(msi_.event_fd->fd(), *gsi);
            }
        }
        if (!status.ok()) {
            log_limited(warnings_, spdlog::level::warn, "{}: enabling MSI: {}", name_, status.error().message);
            routing_->release_gsi(*gsi);
            msi_ = MsiState{};
            return;
        }
        msi_.wired = true;
    }
    if (!msi_.wired) {
        return;
    }
    bool want_route = enabled && !masked;
    bool changed = false;
    if (want_route && (!msi_.routed || msi_.address != address || msi_.data != data)) {
        routing_->set_msi_route(*msi_.gsi, address, data);
        msi_.routed = true;
        msi_.address = address;
        msi_.data = data;
        changed = true;
    } else if (!want_route && msi_.routed) {
        routing_->remove_route(*msi_.gsi);
        msi_.routed = false;
        changed = true;
    }
    if (changed) {
        auto status = routing_->commit();
        if (!status.ok()) {
            log_limited(warnings_, spdlog::level::warn, "{}: MSI route: {}", name_, status.error().message);
        }
    }
    if (!enabled) {
        auto status = device_->disable_irq(abi::kMsiIrq);
        if (!status.ok()) {
            log_limited(warnings_, spdlog::level::warn, "{}: disabling MSI: {}", name_, status.error().message);
        }
        (void)routing_->unregister_irqfd(msi_.event_fd->fd(), *msi_.gsi);
        routing_->release_gsi(*msi_.gsi);
        msi_ = MsiState{};
    }
}

size_t VfioPciDevice::piece_length(uint8_t bar, uint64_t at, size_t length) const {
    // An access is split where the MSI-X table and PBA begin and end.
    for (const MsixArea* area : {&msix_table_, &msix_pba_}) {
        if (area->bar != bar || area->size == 0) {
            continue;
        }
        if (area->contains(bar, at)) {
            length = std::min<size_t>(length, area->offset + area->size - at);
        } else if (area->offset > at) {
            length = std::min<size_t>(length, area->offset - at);
        }
    }
    return length;
}

void VfioPciDevice::bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t done = 0; done < data.size();) {
        size_t piece = piece_length(bar, offset + done, data.size() - done);
        read_piece(bar, offset + done, data.subspan(done, piece));
        done += piece;
    }
}

void VfioPciDevice::bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t done = 0; done < data.size();) {
        size_t piece = piece_length(bar, offset + done, data.size() - done);
        write_piece(bar, offset + done, data.subspan(done, piece));
        done += piece;
    }
}

void VfioPciDevice::read_piece(uint8_t bar, uint64_t offset, std::span<uint8_t> data) {
    if (msix_ && msix_table_.contains(bar, offset)) {
        msix_->table_read(offset - msix_table_.offset, data);
        return;
    }
    if (msix_ && msix_pba_.contains(bar, offset)) {
        msix_->pba_read(offset - msix_pba_.offset, data);
        return;
    }
    auto status = device_->read_region(abi::kBar0Region + bar, offset, data);
    if (!status.ok()) {
        std::ranges::fill(data, 0xff);
        warn_limited(status.error().message);
    }
}

void VfioPciDevice::write_piece(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) {
    if (msix_ && msix_table_.contains(bar, offset)) {
        msix_->table_write(offset - msix_table_.offset, data);
        return;
    }
    if (msix_ && msix_pba_.contains(bar, offset)) {
        return;  // read-only
    }
    auto status = device_->write_region(abi::kBar0Region + bar, offset, data);
    if (!status.ok()) {
        warn_limited(status.error().message);
    }
}

void VfioPciDevice::bar_moved(uint8_t bar, std::optional<uint64_t> old_address, std::optional<uint64_t> new_address) {
    (void)old_address;
    std::lock_guard lock(mutex_);
    BarState* state = find_bar(bar);
    if (state == nullptr) {
        return;
    }
    unmap_slots(*state);
    if (new_address) {
        map_slots(*state, *new_address);
    }
}

void VfioPciDevice::unmap_slots(BarState& bar) {
    for (Part& part : bar.parts) {
        if (part.slot) {
            slots_->unmap(*part.slot);
            part.slot.reset();
        }
    }
}

void VfioPciDevice::map_slots(BarState& bar, uint64_t address) {
    for (Part& part : bar.parts) {
        auto slot = slots_->map(GuestAddress(address + part.offset), part.size, part.mapping.data());
        if (!slot.ok()) {
            warn_limited(fmt::format("BAR {} {:#x}+{:#x} stays trapped: {}", bar.index, part.offset, part.size,
                                     slot.error().message));
            continue;
        }
        part.slot = *slot;
    }
}

void VfioPciDevice::warn_limited(std::string_view message) {
    // A guest can make these in a loop; the first few tell the story.
    log_limited(warnings_, spdlog::level::warn, "{}: {}", name_, message);
}

}  // namespace skiff::vfio
