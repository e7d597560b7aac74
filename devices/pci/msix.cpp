#include "devices/pci/msix.h"

#include "vmm/log_limit.h"

#include <poll.h>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace skiff::pci {

namespace {

using EntryBytes = std::array<uint8_t, kMsixEntrySize>;

void put32(std::span<uint8_t> bytes, size_t at, uint32_t value) {
    for (size_t i = 0; i < 4; ++i) {
        bytes[at + i] = static_cast<uint8_t>(value >> (8 * i));
    }
}

uint32_t get32(std::span<const uint8_t> bytes, size_t at) {
    uint32_t value = 0;
    for (size_t i = 0; i < 4; ++i) {
        value |= uint32_t{bytes[at + i]} << (8 * i);
    }
    return value;
}

}  // namespace

Result<std::unique_ptr<Msix>> Msix::create(uint16_t vector_count, std::shared_ptr<MsiRouting> routing) {
    if (vector_count == 0 || vector_count > kMaxMsixVectors) {
        return Error::format("MSI-X: {} vectors requested, 1 to {} possible", vector_count, kMaxMsixVectors);
    }
    std::unique_ptr<Msix> msix(new Msix(std::move(routing)));
    msix->vectors_.resize(vector_count);
    // On failure the destructor undoes what was done so far.
    for (Vector& vector : msix->vectors_) {
        vector.event_fd = TRY(EventFd::create());
        vector.gsi = TRY(msix->routing_->allocate_gsi());
        vector.gsi_allocated = true;
        TRY(msix->routing_->register_irqfd(vector.event_fd->fd(), vector.gsi));
        vector.irqfd_registered = true;
    }
    return msix;
}

Msix::~Msix() {
    bool removed = false;
    for (Vector& vector : vectors_) {
        if (vector.routed) {
            routing_->remove_route(vector.gsi);
            removed = true;
        }
    }
    if (removed) {
        auto status = routing_->commit();
        if (!status.ok()) {
            spdlog::warn("MSI-X: removing routes: {}", status.error().message);
        }
    }
    for (Vector& vector : vectors_) {
        if (vector.irqfd_registered) {
            (void)routing_->unregister_irqfd(vector.event_fd->fd(), vector.gsi);
        }
        if (vector.gsi_allocated) {
            routing_->release_gsi(vector.gsi);
        }
    }
}

std::array<uint8_t, kMsixCapabilityLength> Msix::capability(uint8_t table_bar, uint32_t table_offset,
                                                            uint8_t pba_bar, uint32_t pba_offset) const {
    std::array<uint8_t, kMsixCapabilityLength> bytes{};
    bytes[0] = capability_id::kMsix;
    uint16_t control = static_cast<uint16_t>((vectors_.size() - 1) & msix_control::kTableSizeMask);
    bytes[2] = static_cast<uint8_t>(control);
    bytes[3] = static_cast<uint8_t>(control >> 8);
    put32(bytes, 4, (table_offset & ~7u) | (table_bar & 7u));
    put32(bytes, 8, (pba_offset & ~7u) | (pba_bar & 7u));
    return bytes;
}

std::array<uint8_t, kMsixCapabilityLength> Msix::capability_write_mask() {
    std::array<uint8_t, kMsixCapabilityLength> mask{};
    mask[3] = static_cast<uint8_t>((msix_control::kEnable | msix_control::kFunctionMask) >> 8);
    return mask;
}

void Msix::set_message_control(uint16_t value) {
    std::lock_guard lock(mutex_);
    enabled_ = (value & msix_control::kEnable) != 0;
    function_masked_ = (value & msix_control::kFunctionMask) != 0;
    synchronize();
}

uint16_t Msix::message_control() const {
    std::lock_guard lock(mutex_);
    auto control = static_cast<uint16_t>((vectors_.size() - 1) & msix_control::kTableSizeMask);
    if (enabled_) {
        control |= msix_control::kEnable;
    }
    if (function_masked_) {
        control |= msix_control::kFunctionMask;
    }
    return control;
}

void Msix::table_read(uint64_t offset, std::span<uint8_t> data) const {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        uint64_t index = at / kMsixEntrySize;
        if (at < offset || index >= vectors_.size()) {
            data[i] = 0;
            continue;
        }
        const Entry& entry = vectors_[index].entry;
        EntryBytes bytes{};
        put32(bytes, 0, entry.address_low);
        put32(bytes, 4, entry.address_high);
        put32(bytes, 8, entry.data);
        put32(bytes, 12, entry.control);
        data[i] = bytes[at % kMsixEntrySize];
    }
}

void Msix::table_write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    bool changed = false;
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        uint64_t index = at / kMsixEntrySize;
        if (at < offset || index >= vectors_.size()) {
            continue;
        }
        Entry& entry = vectors_[index].entry;
        EntryBytes bytes{};
        put32(bytes, 0, entry.address_low);
        put32(bytes, 4, entry.address_high);
        put32(bytes, 8, entry.data);
        put32(bytes, 12, entry.control);
        bytes[at % kMsixEntrySize] = data[i];
        entry.address_low = get32(bytes, 0);
        entry.address_high = get32(bytes, 4);
        entry.data = get32(bytes, 8);
        // Vector control: only the mask bit exists; the rest is reserved.
        entry.control = get32(bytes, 12) & kMsixVectorMasked;
        changed = true;
    }
    if (changed) {
        synchronize();
    }
}

void Msix::pba_read(uint64_t offset, std::span<uint8_t> data) const {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        uint64_t at = offset + i;
        uint8_t byte = 0;
        for (unsigned bit = 0; bit < 8 && at >= offset; ++bit) {
            uint64_t index = at * 8 + bit;
            if (at < pba_size() && index < vectors_.size() && is_pending(vectors_[index])) {
                byte = static_cast<uint8_t>(byte | (1u << bit));
            }
        }
        data[i] = byte;
    }
}

void Msix::fire(uint16_t vector_index) {
    std::lock_guard lock(mutex_);
    if (vector_index >= vectors_.size() || !enabled_) {
        return;
    }
    Vector& vector = vectors_[vector_index];
    if (!can_fire(vector)) {
        vector.pending = true;
        return;
    }
    deliver(vector);
}

int Msix::vector_fd(uint16_t vector) const {
    return vector < vectors_.size() && vectors_[vector].event_fd ? vectors_[vector].event_fd->fd() : -1;
}

uint32_t Msix::vector_gsi(uint16_t vector) const { return vector < vectors_.size() ? vectors_[vector].gsi : 0; }

bool Msix::pending(uint16_t vector) const {
    std::lock_guard lock(mutex_);
    return vector < vectors_.size() && is_pending(vectors_[vector]);
}

bool Msix::can_fire(const Vector& vector) const {
    return enabled_ && !function_masked_ && (vector.entry.control & kMsixVectorMasked) == 0;
}

void Msix::synchronize() {
    bool changed = false;
    for (Vector& vector : vectors_) {
        uint64_t address = (uint64_t{vector.entry.address_high} << 32) | vector.entry.address_low;
        if (can_fire(vector)) {
            if (!vector.routed || vector.routed_address != address || vector.routed_data != vector.entry.data) {
                routing_->set_msi_route(vector.gsi, address, vector.entry.data);
                vector.routed = true;
                vector.routed_address = address;
                vector.routed_data = vector.entry.data;
                changed = true;
            }
            continue;
        }
        // Masked: KVM lets go of the eventfd before its route goes, so that
        // what vhost or VFIO write to it from now on stays in its counter,
        // pending, instead of raising a GSI without a route.
        if (vector.irqfd_registered) {
            auto status = routing_->unregister_irqfd(vector.event_fd->fd(), vector.gsi);
            if (status.ok()) {
                vector.irqfd_registered = false;
            } else {
                SKIFF_WARN_LIMITED("MSI-X: masking a vector: {}", status.error().message);
            }
        }
        if (vector.routed) {
            routing_->remove_route(vector.gsi);
            vector.routed = false;
            changed = true;
        }
    }
    if (changed) {
        auto status = routing_->commit();
        if (!status.ok()) {
            SKIFF_WARN_LIMITED("MSI-X: updating interrupt routes: {}", status.error().message);
        }
    }
    // Only now, with the route in place, may the eventfd reach KVM again
    // and a pending vector go out. What was written to the eventfd while
    // masked counts as pending; a write racing with the registration is
    // seen by KVM itself, which injects an eventfd found already signalled.
    for (Vector& vector : vectors_) {
        if (!can_fire(vector)) {
            continue;
        }
        if (!vector.irqfd_registered) {
            if (vector.event_fd->consume() != 0) {
                vector.pending = true;
            }
            auto status = routing_->register_irqfd(vector.event_fd->fd(), vector.gsi);
            if (status.ok()) {
                vector.irqfd_registered = true;
            } else {
                SKIFF_WARN_LIMITED("MSI-X: unmasking a vector: {}", status.error().message);
            }
        }
        if (vector.pending) {
            vector.pending = false;
            deliver(vector);
        }
    }
}

bool Msix::is_pending(const Vector& vector) const {
    if (vector.pending) {
        return true;
    }
    if (vector.irqfd_registered || !vector.event_fd) {
        return false;
    }
    // Written directly (vhost, VFIO) while masked: still in the counter.
    pollfd poll_fd{vector.event_fd->fd(), POLLIN, 0};
    return ::poll(&poll_fd, 1, 0) == 1 && (poll_fd.revents & POLLIN) != 0;
}

void Msix::deliver(Vector& vector) { vector.event_fd->signal(); }

}  // namespace skiff::pci
