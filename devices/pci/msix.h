// MSI-X (PCI Local Bus 3.0, 6.8.2): the capability's message control, the
// vector table and the pending-bit array, with each vector delivered by
// KVM. Every vector has an eventfd registered as an irqfd on its own GSI;
// the GSI carries an MSI route with the table entry's address and data
// exactly while the vector can fire (MSI-X enabled, function and vector
// unmasked). A vector fired while masked sets its pending bit instead, and
// is delivered when unmasked.
//
// The table and PBA live in a BAR the owning device decodes; it forwards
// accesses to table_read/table_write/pba_read. The capability bytes live in
// its configuration space; it forwards message control writes.
//
// An eventfd may also be written directly, without skiff (vhost's call fd,
// VFIO's interrupt eventfd). KVM keeps no pending bits, and a write to an
// irqfd whose GSI has no route is lost; so while a vector is masked its
// irqfd is unregistered (before the route goes): writes then stay in the
// eventfd's counter, show in the PBA, and are delivered when the vector is
// unmasked (route first, then the irqfd again). Before the guest first
// touches MSI-X (set_message_control or a table write) the irqfds are
// registered without routes; nothing writes them that early.
//
// Threads: table and control accesses come from vCPU threads, fire() from
// the device's data path; one lock orders them.
#pragma once

#include "devices/pci/msi_routing.h"
#include "devices/pci/pci_config_space.h"
#include "vmm/result.h"
#include "vmm/event_fd.h"

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <vector>

namespace skiff::pci {

inline constexpr uint16_t kMaxMsixVectors = 2048;
inline constexpr uint64_t kMsixEntrySize = 16;
inline constexpr size_t kMsixCapabilityLength = 12;

namespace msix_control {
inline constexpr uint16_t kTableSizeMask = 0x07ff;  // N - 1
inline constexpr uint16_t kFunctionMask = 1 << 14;
inline constexpr uint16_t kEnable = 1 << 15;
}  // namespace msix_control

inline constexpr uint32_t kMsixVectorMasked = 1;  // vector control bit 0

class Msix final {
public:
    // `vector_count` vectors (1..2048): eventfds created, GSIs allocated and
    // irqfds registered. All vectors start masked, MSI-X disabled.
    static Result<std::unique_ptr<Msix>> create(uint16_t vector_count, std::shared_ptr<MsiRouting> routing);
    ~Msix();
    Msix(const Msix&) = delete;
    Msix& operator=(const Msix&) = delete;

    [[nodiscard]] uint16_t vector_count() const { return static_cast<uint16_t>(vectors_.size()); }
    [[nodiscard]] uint64_t table_size() const { return vectors_.size() * kMsixEntrySize; }
    [[nodiscard]] uint64_t pba_size() const { return (vectors_.size() + 63) / 64 * 8; }

    // The capability as ConfigSpace::add_capability wants it (table and PBA
    // in BARs table_bar / pba_bar at 8-aligned offsets), and its write mask
    // (the enable and function mask bits of message control).
    [[nodiscard]] std::array<uint8_t, kMsixCapabilityLength> capability(uint8_t table_bar, uint32_t table_offset,
                                                                        uint8_t pba_bar, uint32_t pba_offset) const;
    [[nodiscard]] static std::array<uint8_t, kMsixCapabilityLength> capability_write_mask();
    // Offset of message control inside the capability.
    static constexpr uint16_t kMessageControlOffset = 2;

    // The guest wrote message control (only enable and function mask count).
    void set_message_control(uint16_t value);
    [[nodiscard]] uint16_t message_control() const;

    // Accesses at `offset` into the table / PBA; any size and alignment
    // (drivers use dwords), bytes past the end read zero and are ignored.
    // The PBA is read-only.
    void table_read(uint64_t offset, std::span<uint8_t> data) const;
    void table_write(uint64_t offset, std::span<const uint8_t> data);
    void pba_read(uint64_t offset, std::span<uint8_t> data) const;

    // Raises `vector`: delivered when it can fire, pending when masked,
    // dropped when MSI-X is disabled or the vector does not exist.
    void fire(uint16_t vector);

    // The vector's eventfd (an irqfd), or -1 if it does not exist. Writing it
    // delivers the vector without skiff in the loop (vhost's call fd, VFIO's
    // interrupt eventfd).
    [[nodiscard]] int vector_fd(uint16_t vector) const;
    [[nodiscard]] uint32_t vector_gsi(uint16_t vector) const;
    [[nodiscard]] bool pending(uint16_t vector) const;

private:
    struct Entry {
        uint32_t address_low = 0;
        uint32_t address_high = 0;
        uint32_t data = 0;
        uint32_t control = kMsixVectorMasked;
    };
    struct Vector {
        Entry entry;
        std::optional<EventFd> event_fd;  // set once created
        uint32_t gsi = 0;
        bool gsi_allocated = false;
        bool irqfd_registered = false;
        bool routed = false;  // an MSI route is installed, for:
        uint64_t routed_address = 0;
        uint32_t routed_data = 0;
        bool pending = false;
    };

    explicit Msix(std::shared_ptr<MsiRouting> routing) : routing_(std::move(routing)) {}
    [[nodiscard]] bool can_fire(const Vector& vector) const;
    // Pending bit or, while the irqfd is unregistered, a signalled eventfd.
    [[nodiscard]] bool is_pending(const Vector& vector) const;
    // Brings the routes and irqfds in line with the table and control bits,
    // commits, then delivers vectors that became unmasked while pending.
    // Called with mutex_ held.
    void synchronize();
    void deliver(Vector& vector);

    std::shared_ptr<MsiRouting> routing_;
    mutable std::mutex mutex_;
    std::vector<Vector> vectors_;
    bool enabled_ = false;
    bool function_masked_ = false;
};

}  // namespace skiff::pci
