// Where a virtio-pci function keeps things (VIRTIO 1.2, 4.1): its PCI
// identity, the vendor capability layout, skiff's BAR layout and the common
// configuration structure's fields.
#pragma once

#include "devices/pci/msix.h"
#include "devices/virtio/virtio.h"

#include <cstddef>
#include <cstdint>

namespace skiff::virtio {

namespace pci_ids {
inline constexpr uint16_t kVendor = 0x1af4;
inline constexpr uint16_t kModernDeviceBase = 0x1040;  // + device type
inline constexpr uint8_t kRevision = 1;
}  // namespace pci_ids

// virtio_pci_cap.cfg_type (VIRTIO 1.2, 4.1.4).
namespace pci_cap {
inline constexpr uint8_t kCommonConfig = 1;
inline constexpr uint8_t kNotifyConfig = 2;
inline constexpr uint8_t kIsrConfig = 3;
inline constexpr uint8_t kDeviceConfig = 4;
inline constexpr uint8_t kPciConfig = 5;
// Byte offsets inside struct virtio_pci_cap.
inline constexpr uint8_t kLengthField = 2;  // cap_len
inline constexpr uint8_t kTypeField = 3;    // cfg_type
inline constexpr uint8_t kBarField = 4;
inline constexpr uint8_t kOffsetField = 8;
inline constexpr uint8_t kLengthOfRegion = 12;
inline constexpr uint8_t kNotifyMultiplierField = 16;  // virtio_pci_notify_cap
inline constexpr uint8_t kPciConfigDataField = 16;     // virtio_pci_cfg_cap
inline constexpr uint8_t kSize = 16;
inline constexpr uint8_t kNotifySize = 20;
inline constexpr uint8_t kPciConfigSize = 20;
}  // namespace pci_cap

// Where everything is in the BAR. Regions are page-aligned so that each
// could be mapped on its own.
namespace pci_bar {
inline constexpr uint8_t kIndex = 0;
inline constexpr uint64_t kSize = 0x8000;
inline constexpr uint64_t kCommonConfig = 0x0000;
inline constexpr uint64_t kIsr = 0x1000;
inline constexpr uint64_t kDeviceConfig = 0x2000;
inline constexpr uint64_t kNotify = 0x3000;
inline constexpr uint64_t kMsixTable = 0x4000;
inline constexpr uint64_t kMsixPba = 0x6000;
inline constexpr uint64_t kRegionSize = 0x1000;
inline constexpr uint64_t kMsixTableRegionSize = 0x2000;
inline constexpr uint32_t kNotifyOffMultiplier = 4;
// One notification address per queue in the notify region, one MSI-X
// vector per queue plus the configuration vector in the table region.
inline constexpr size_t kMaxQueues = kMsixTableRegionSize / pci::kMsixEntrySize - 1;
}  // namespace pci_bar

// struct virtio_pci_common_cfg (VIRTIO 1.2, 4.1.4.3).
namespace common_cfg {
inline constexpr uint16_t kDeviceFeatureSelect = 0x00;
inline constexpr uint16_t kDeviceFeature = 0x04;
inline constexpr uint16_t kDriverFeatureSelect = 0x08;
inline constexpr uint16_t kDriverFeature = 0x0c;
inline constexpr uint16_t kConfigMsixVector = 0x10;
inline constexpr uint16_t kNumQueues = 0x12;
inline constexpr uint16_t kDeviceStatus = 0x14;
inline constexpr uint16_t kConfigGeneration = 0x15;
inline constexpr uint16_t kQueueSelect = 0x16;
inline constexpr uint16_t kQueueSize = 0x18;
inline constexpr uint16_t kQueueMsixVector = 0x1a;
inline constexpr uint16_t kQueueEnable = 0x1c;
inline constexpr uint16_t kQueueNotifyOff = 0x1e;
inline constexpr uint16_t kQueueDescriptor = 0x20;
inline constexpr uint16_t kQueueDriver = 0x28;
inline constexpr uint16_t kQueueDevice = 0x30;
inline constexpr uint16_t kQueueNotifyData = 0x38;
inline constexpr uint16_t kQueueReset = 0x3a;
inline constexpr uint16_t kSize = 0x3c;
}  // namespace common_cfg

// PCI class code for a device type (net: 0x020000).
uint32_t pci_class_code(DeviceType type);

}  // namespace skiff::virtio
