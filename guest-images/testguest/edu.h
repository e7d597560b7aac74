// testguest.mode=edu: drives QEMU's "edu" educational PCI device
// (1234:11e8), which skiff's VFIO tests pass through from an L1 VM that has
// an emulated IOMMU. Each step checks one path of the pass-through for
// real and prints one line:
//   "edu found 00:SS.0 bar0=ADDR" - skiff's virtualized configuration space
//       (IDs passed through, BAR placed by skiff);
//   "edu id=0x010000ed" and "edu liveness=ok" - BAR reads and writes
//       reaching the device (mapped into the guest or forwarded by skiff);
//   "edu dma=ok" - the device's DMA to and from guest RAM through the
//       host IOMMU (skiff's VFIO_IOMMU_MAP_DMA of guest memory);
//   "edu msi=ok" - the device's MSI reaching this vCPU's local APIC
//       (skiff's MSI capability emulation, VFIO_DEVICE_SET_IRQS, irqfd).
// A failed step prints "edu <step>=FAILED ..." and the rest are skipped.
#pragma once

void edu_run(void);
