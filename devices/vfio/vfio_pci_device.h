// A PCI function passed through with VFIO, as a device on skiff's PCI root.
//
// Configuration space: reads and writes go to the function (VFIO's config
// region) except what skiff must own, which a shadow ConfigSpace answers:
//   - the BARs: skiff's guest addresses and sizing masks from the regions'
//     sizes (64-bit pairs kept); I/O BARs are not supported and read as 0;
//   - the expansion ROM (hidden: reads 0);
//   - the command register (memory decoding, bus mastering and INTx disable
//     are kept here for the root's decoding and forwarded to the function);
//   - the multi-function bit, the interrupt line and pin (no INTx: pin 0);
//   - the MSI-X and MSI capabilities, emulated (below), and the capability
//     headers (ids and next pointers: the chain stays as skiff built it,
//     so a capability can be hidden).
// Capabilities in extended configuration space are out of reach (the root
// has 256-byte configuration spaces).
//
// BARs: the root places them in its MMIO window. The parts of a BAR that
// VFIO lets skiff mmap (its sparse areas, else all of it) are mapped and put
// in the guest as KVM memory slots, except the pages holding the MSI-X table
// and PBA, which stay trapped; the slots follow the BAR when the guest moves
// it (bar_moved). Every other access exits to skiff and is forwarded with
// pread/pwrite at the region's offset.
//
// MSI-X: pci::Msix emulates the table and PBA and gives every vector an
// eventfd with its own GSI and irqfd; when the guest enables MSI-X, the
// eventfds are handed to VFIO (VFIO_DEVICE_SET_IRQS, ACTION_TRIGGER), so an
// interrupt goes from the function to the guest without skiff. Masking is
// pci::Msix's alone: while a vector is masked (itself or the whole
// function) its irqfd is unregistered, so what VFIO writes to the eventfd
// stays in its counter, shows in the PBA and is delivered at unmask; VFIO
// keeps the same eventfds from enable to disable. MSI: one vector
// (multiple-message capable reads 0), likewise through VFIO, its GSI and
// route set while enabled and unmasked.
//
// Threads: the root calls in from vCPU threads; one lock serialises.
#pragma once

#include "devices/memory_slots.h"
#include "devices/pci/msi_routing.h"
#include "devices/pci/msix.h"
#include "devices/pci/pci_device.h"
#include "devices/vfio/vfio_device.h"
#include "vmm/event_fd.h"
#include "vmm/guest_memory.h"
#include "vmm/log_limit.h"

#include <array>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace skiff::vfio {

namespace pci_capability {
inline constexpr uint8_t kMsi = 0x05;
inline constexpr uint8_t kMsix = 0x11;
}  // namespace pci_capability

inline constexpr uint16_t kRomAddress = 0x30;
inline constexpr uint64_t kPageSize = 4096;

class VfioPciDevice final : public pci::PciDevice {
public:
    // Maps guest RAM for the function's DMA, reads its configuration space
    // and builds the shadow, maps its BARs' mmap'able parts and creates the
    // MSI-X vectors. `memory`, `routing` and `slots` must outlive the device.
    [[nodiscard]] static Result<std::shared_ptr<VfioPciDevice>> create(std::shared_ptr<VfioDevice> device,
                                                                       const GuestMemory& memory,
                                                                       std::shared_ptr<pci::MsiRouting> routing,
                                                                       std::shared_ptr<MemorySlots> slots,
                                                                       std::string name);
    ~VfioPciDevice() override;
    VfioPciDevice(const VfioPciDevice&) = delete;
    VfioPciDevice& operator=(const VfioPciDevice&) = delete;

    // pci::PciDevice
    void config_read(uint16_t offset, std::span<uint8_t> data) override;
    void config_write(uint16_t offset, std::span<const uint8_t> data) override;
    [[nodiscard]] std::vector<pci::Bar> bars() const override;
    void assign_bar(uint8_t bar, uint64_t address) override;
    void bar_read(uint8_t bar, uint64_t offset, std::span<uint8_t> data) override;
    void bar_write(uint8_t bar, uint64_t offset, std::span<const uint8_t> data) override;
    void bar_moved(uint8_t bar, std::optional<uint64_t> old_address, std::optional<uint64_t> new_address) override;
    [[nodiscard]] std::string_view name() const override { return name_; }

    // For tests and logs.
    struct MappedPart {
        uint8_t bar;
        uint64_t offset;  // inside the BAR
        uint64_t size;
        std::byte* host;
    };
    [[nodiscard]] std::vector<MappedPart> mapped_parts() const;
    [[nodiscard]] const pci::Msix* msix() const { return msix_.get(); }
    [[nodiscard]] uint8_t msix_capability() const { return msix_capability_; }
    [[nodiscard]] uint8_t msi_capability() const { return msi_capability_; }
    [[nodiscard]] int msi_fd() const { return msi_.event_fd ? msi_.event_fd->fd() : -1; }
    [[nodiscard]] std::optional<uint32_t> msi_gsi() const { return msi_.gsi; }

private:
    struct Part {
        uint64_t offset;
        uint64_t size;
        MemoryMapping mapping;
        std::optional<uint32_t> slot;
    };
    struct BarState {
        uint8_t index;
        uint64_t size;
        std::vector<Part> parts;  // mmap'ed, in the guest while the BAR is decoded
    };
    // The MSI-X table or PBA inside a BAR.
    struct MsixArea {
        uint8_t bar = 0xff;
        uint64_t offset = 0;
        uint64_t size = 0;
        [[nodiscard]] bool contains(uint8_t index, uint64_t at) const {
            return index == bar && at >= offset && at - offset < size;
        }
    };
    struct MsiState {
        std::optional<EventFd> event_fd;
        std::optional<uint32_t> gsi;
        bool wired = false;   // eventfd given to VFIO, irqfd registered
        bool routed = false;
        uint64_t address = 0;
        uint32_t data = 0;
    };

    VfioPciDevice(std::shared_ptr<VfioDevice> device, std::shared_ptr<pci::MsiRouting> routing,
                  std::shared_ptr<MemorySlots> slots, std::string name, const pci::Identity& identity);
    [[nodiscard]] Result<void> build(const std::array<uint8_t, pci::kConfigSpaceSize>& raw);
    [[nodiscard]] Result<void> add_bars(const std::array<uint8_t, pci::kConfigSpaceSize>& raw);
    [[nodiscard]] Result<void> add_capabilities(const std::array<uint8_t, pci::kConfigSpaceSize>& raw);
    [[nodiscard]] Result<void> setup_msix(uint8_t offset);
    void setup_msi(uint8_t offset);
    [[nodiscard]] Result<void> map_bar_parts(BarState& bar);
    void emulate(uint64_t offset, uint64_t length);
    // Called with mutex_ held.
    void forward_config_write(uint16_t offset, std::span<const uint8_t> data);
    void after_command_write();
    void after_msix_write();
    void after_msi_write();
    void unmap_slots(BarState& bar);
    void map_slots(BarState& bar, uint64_t address);
    // How much of an access at `at` stays on one side of an MSI-X area edge.
    [[nodiscard]] size_t piece_length(uint8_t bar, uint64_t at, size_t length) const;
    void read_piece(uint8_t bar, uint64_t offset, std::span<uint8_t> data);
    void write_piece(uint8_t bar, uint64_t offset, std::span<const uint8_t> data);
    [[nodiscard]] BarState* find_bar(uint8_t index);
    void warn_limited(std::string_view message);

    std::shared_ptr<VfioDevice> device_;
    std::shared_ptr<pci::MsiRouting> routing_;
    std::shared_ptr<MemorySlots> slots_;
    std::string name_;

    mutable std::mutex mutex_;
    pci::ConfigSpace shadow_;
    std::array<bool, pci::kConfigSpaceSize> emulated_{};
    std::vector<BarState> bars_;
    uint8_t msix_capability_ = 0;
    MsixArea msix_table_;
    MsixArea msix_pba_;
    std::unique_ptr<pci::Msix> msix_;
    bool msix_wired_ = false;  // VFIO has the vectors' eventfds
    uint8_t msi_capability_ = 0;
    bool msi_64bit_ = false;
    bool msi_maskable_ = false;
    MsiState msi_;
    LogLimiter warnings_;  // per device: what the guest can make it say
};

}  // namespace skiff::vfio
