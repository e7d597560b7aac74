// virtio over PCI, modern interface only (virtio 1.x, 4.1): the vendor
// capabilities locate the common, notify, ISR and device configuration
// structures inside memory BARs. No MSI-X: the driver polls.
#pragma once

#include "pci.h"
#include "virtio_transport.h"

#include <stdbool.h>

#define VIRTIO_PCI_VENDOR 0x1af4
#define VIRTIO_PCI_DEVICE_NET 0x1041  // 0x1040 + device ID 1 (modern only)

// Finds the capabilities of `function`, places its BARs when they have no
// usable address (every BAR when `reassign`), enables memory decoding and
// bus mastering, disables INTx, and fills in `transport`. On failure
// returns false and says why in *problem.
bool virtio_pci_open(struct virtio_transport *transport, struct pci_function function,
                     bool reassign, const char **problem);
