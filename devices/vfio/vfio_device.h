// One PCI function opened through VFIO: its container (type 1 IOMMU v2),
// its group and its device fd, with what the kernel says about its regions
// and interrupts. Owns the sysfs binding too, so destruction gives the
// function back in the only order that works: DMA unmapped, device, group
// and container closed, then the function unbound from vfio-pci and
// re-probed by its original driver.
//
// open_passthrough() is the whole host-side set-up of mode=vfio, up to the
// device fd: it runs before /dev/kvm is opened, so every host problem is a
// one-line start-up error and nothing is left bound to vfio-pci.
#pragma once

#include "devices/vfio/sysfs_binding.h"
#include "devices/vfio/vfio_abi.h"
#include "devices/vfio/vfio_host.h"
#include "net/mac_address.h"
#include "vmm/guest_memory.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace skiff::vfio {

struct RegionInfo {
    uint32_t index = 0;
    uint32_t flags = 0;  // VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP
    uint64_t size = 0;
    uint64_t offset = 0;  // of the region in the device fd
    // VFIO_REGION_INFO_CAP_SPARSE_MMAP: only these parts may be mmap'ed.
    std::optional<std::vector<std::pair<uint64_t, uint64_t>>> sparse_areas;  // (offset, size)

    [[nodiscard]] bool mappable() const { return (flags & VFIO_REGION_INFO_FLAG_MMAP) != 0; }
};

struct IrqInfo {
    uint32_t index = 0;
    uint32_t flags = 0;
    uint32_t count = 0;
};

class VfioDevice final {
public:
    // Container, group (must be viable), IOMMU type, device fd, device,
    // region and IRQ infos, reset where supported. `binding` is kept and
    // undone on destruction (or failure).
    [[nodiscard]] static Result<std::unique_ptr<VfioDevice>> open(std::shared_ptr<VfioHost> host,
                                                                  DriverBinding binding, uint32_t group);
    ~VfioDevice();
    VfioDevice(const VfioDevice&) = delete;
    VfioDevice& operator=(const VfioDevice&) = delete;

    // VFIO_IOMMU_MAP_DMA of every guest RAM region, IOVA = guest-physical.
    // The mappings stay until destruction; `memory` must outlive this object.
    [[nodiscard]] Result<void> map_dma(const GuestMemory& memory);

    // `undo` runs first at destruction, while the fds are still open: for
    // what others registered with them (KVM's VFIO device holds the group).
    void before_release(std::function<void()> undo) { before_release_.push_back(std::move(undo)); }

    [[nodiscard]] const std::string& address() const { return binding_.address(); }
    // The VF MAC open_passthrough() set (mac=), for an owner that must give
    // it back at a moment of its choosing (the Machine: at the end of its
    // run, from the thread that kept CAP_NET_ADMIN). Otherwise it is given
    // back when the device goes, after its fds are closed.
    void hold_vf_mac(VfMacAssignment vf_mac) { vf_mac_ = std::move(vf_mac); }
    [[nodiscard]] VfMacAssignment take_vf_mac() { return std::move(vf_mac_); }
    [[nodiscard]] uint32_t group() const { return group_number_; }
    [[nodiscard]] int group_fd() const { return group_.get(); }
    [[nodiscard]] const vfio_device_info& info() const { return info_; }
    // nullptr when the device has no such region / IRQ index (or it is empty).
    [[nodiscard]] const RegionInfo* region(uint32_t index) const;
    [[nodiscard]] const IrqInfo* irq(uint32_t index) const;

    // Accesses at `offset` inside region `index`, bounds-checked.
    [[nodiscard]] Result<void> read_region(uint32_t index, uint64_t offset, std::span<uint8_t> data) const;
    [[nodiscard]] Result<void> write_region(uint32_t index, uint64_t offset, std::span<const uint8_t> data) const;
    [[nodiscard]] Result<MemoryMapping> map_region(uint32_t index, uint64_t offset, uint64_t size) const;

    // VFIO_DEVICE_SET_IRQS, ACTION_TRIGGER: eventfds for vectors
    // start..start+count-1 of IRQ `index` (-1 leaves a vector unwired), or,
    // with no fds, interrupts of that index disabled.
    [[nodiscard]] Result<void> set_irq_eventfds(uint32_t index, uint32_t start, std::span<const int> fds) const;
    [[nodiscard]] Result<void> disable_irq(uint32_t index) const;

private:
    VfioDevice(std::shared_ptr<VfioHost> host, DriverBinding binding)
        : host_(std::move(host)), binding_(std::move(binding)) {}
    [[nodiscard]] Result<void> open_container();
    [[nodiscard]] Result<void> open_group(uint32_t group);
    [[nodiscard]] Result<void> open_device();
    [[nodiscard]] Result<RegionInfo> query_region(uint32_t index) const;
    [[nodiscard]] Result<int> call(int fd, unsigned long request, void* argument, std::string_view what) const;

    std::shared_ptr<VfioHost> host_;
    // Destroyed last: the function goes back to its driver after every fd
    // below is closed.
    DriverBinding binding_;
    // The VF's old MAC goes back before its driver takes it back.
    VfMacAssignment vf_mac_;
    UniqueFd container_;
    UniqueFd group_;
    UniqueFd device_;
    uint32_t group_number_ = 0;
    vfio_device_info info_{};
    std::vector<RegionInfo> regions_;
    std::vector<IrqInfo> irqs_;
    struct DmaMapping {
        uint64_t iova;
        uint64_t size;
    };
    std::vector<DmaMapping> dma_;
    std::vector<std::function<void()>> before_release_;
};

// What mode=vfio names: a PCI address, or VF `vf` of PF interface `pf`, and
// the MAC to give the VF (through the PF) before it is bound.
struct PassthroughRequest {
    std::string address;
    std::string pf;
    std::optional<uint32_t> vf;
    std::optional<net::MacAddress> mac;
};

// Resolves, checks, sets the MAC, binds to vfio-pci and opens the device.
// Errors are one line with cause and fix.
[[nodiscard]] Result<std::unique_ptr<VfioDevice>> open_passthrough(std::shared_ptr<VfioHost> host,
                                                                   const PassthroughRequest& request);

}  // namespace skiff::vfio
