// The VFIO structures skiff passes to the kernel, declared the way C sees
// them (see vmm/kvm_abi.h for why <linux/*.h> flexible arrays are wrong in
// C++), with ioctl numbers and constants from <linux/vfio.h>.
//
// vfio_irq_set ends in `__u8 data[]` (the eventfds), and the sparse-mmap
// capability in `areas[]`; their headers are copied here and the variable
// part is appended by hand. The fixed-size structures (group status, device,
// region and IRQ info, DMA map/unmap) are used from <linux/vfio.h> as they
// are; their sizes are checked against the kernel's.
#pragma once

#include <linux/vfio.h>

#include <cstddef>
#include <cstdint>

namespace skiff::vfio::abi {

// VFIO_DEVICE_SET_IRQS: followed by `count` int32 eventfds when flags has
// VFIO_IRQ_SET_DATA_EVENTFD.
struct IrqSetHeader {
    uint32_t argsz;
    uint32_t flags;
    uint32_t index;
    uint32_t start;
    uint32_t count;
};
static_assert(sizeof(IrqSetHeader) == 20);
static_assert(offsetof(IrqSetHeader, count) == 16);

// Every capability in a region info's chain starts so (offsets are from
// the start of the vfio_region_info).
struct CapabilityHeader {
    uint16_t id;
    uint16_t version;
    uint32_t next;
};
static_assert(sizeof(CapabilityHeader) == 8);

// VFIO_REGION_INFO_CAP_SPARSE_MMAP: followed by nr_areas SparseMmapArea.
struct SparseMmapHeader {
    CapabilityHeader header;
    uint32_t nr_areas;
    uint32_t reserved;
};
static_assert(sizeof(SparseMmapHeader) == 16);

struct SparseMmapArea {
    uint64_t offset;
    uint64_t size;
};
static_assert(sizeof(SparseMmapArea) == 16);

static_assert(sizeof(vfio_group_status) == 8);
static_assert(offsetof(vfio_device_info, num_irqs) == 12);
static_assert(sizeof(vfio_region_info) == 32);
static_assert(offsetof(vfio_region_info, size) == 16 && offsetof(vfio_region_info, offset) == 24);
static_assert(sizeof(vfio_irq_info) == 16);
static_assert(sizeof(vfio_iommu_type1_dma_map) == 32);
static_assert(sizeof(vfio_iommu_type1_dma_unmap) == 24);

// vfio-pci's fixed region and IRQ indexes.
inline constexpr uint32_t kBar0Region = VFIO_PCI_BAR0_REGION_INDEX;
inline constexpr uint32_t kRomRegion = VFIO_PCI_ROM_REGION_INDEX;
inline constexpr uint32_t kConfigRegion = VFIO_PCI_CONFIG_REGION_INDEX;
inline constexpr uint32_t kMsiIrq = VFIO_PCI_MSI_IRQ_INDEX;
inline constexpr uint32_t kMsixIrq = VFIO_PCI_MSIX_IRQ_INDEX;

}  // namespace skiff::vfio::abi
