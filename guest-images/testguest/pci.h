// PCI configuration space through configuration mechanism #1 (ports 0xCF8
// and 0xCFC), bus 0 only, and the BARs of a function: their addresses and,
// when firmware or the VMM left one unassigned, an address of our own.
#pragma once

#include <stdbool.h>
#include <stdint.h>

#define PCI_VENDOR_ID 0x00
#define PCI_DEVICE_ID 0x02
#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_HEADER_TYPE 0x0e
#define PCI_BAR0 0x10
#define PCI_CAPABILITIES_POINTER 0x34

#define PCI_COMMAND_MEMORY 0x0002
#define PCI_COMMAND_BUS_MASTER 0x0004
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_STATUS_CAPABILITIES 0x0010
#define PCI_CAPABILITY_VENDOR 0x09

#define PCI_BARS 6

struct pci_function {
    uint8_t bus, slot, function;
};

uint32_t pci_read32(struct pci_function function, uint8_t offset);
uint16_t pci_read16(struct pci_function function, uint8_t offset);
uint8_t pci_read8(struct pci_function function, uint8_t offset);
void pci_write32(struct pci_function function, uint8_t offset, uint32_t value);
void pci_write16(struct pci_function function, uint8_t offset, uint16_t value);
void pci_write8(struct pci_function function, uint8_t offset, uint8_t value);

// Functions on bus 0 with this vendor and device ID, in slot order; at
// most `capacity` are stored, the count found is returned. Without a
// device at 00:00.0 (a host bridge) the bus is taken to be absent.
unsigned pci_find(uint16_t vendor, uint16_t device, struct pci_function *found,
                  unsigned capacity);

// The guest-physical address memory BAR `bar` decodes, usable through the
// identity map (below 4 GiB, and in the uncached top GiB). A BAR that is
// unassigned (0) or unusable, or any BAR when `reassign` is set, gets an
// address from the platform's PCI window that no other BAR on bus 0 uses.
// Leaves memory decoding as it found it; *placed says whether the BAR was
// given a new address. Returns 0 for an I/O BAR, a BAR out of range, or a
// full window.
uint64_t pci_memory_bar(struct pci_function function, unsigned bar, bool reassign, bool *placed);
