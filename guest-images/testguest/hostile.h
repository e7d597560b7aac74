// testguest.mode=hostile: attacks one virtio-net device (the target) the
// way a malicious driver would, to show that the VMM survives it, keeps
// its other devices working and logs little: garbage descriptors and
// rings, impossible queue set-ups, unoffered features, random accesses to
// every register and configuration offset, random writes to the target's
// PCI configuration space (BARs, MSI-X table) and floods of queue
// notifications. Between bursts the caller's `serve` runs, so the other
// NICs keep answering. Everything runs at CPL3, reproducibly from a seed
// (xorshift64).
//
// Addresses the attack writes into rings and queue registers are never
// RAM outside the target's own ring and buffer memory, so the device can
// only scribble on memory the guest gave it; MSI-X is never enabled, so
// garbage vectors cannot deliver NMIs or INITs to the guest.
#pragma once

#include "boot_info.h"
#include "pci.h"
#include "virtio_net.h"

#include <stdbool.h>
#include <stdint.h>

struct hostile_target {
    struct virtio_net *nic;  // opened and started; its transport is used
    struct virtio_net_memory *memory;  // the NIC's rings and buffers: the attack's scratch RAM
    const struct boot_info *boot_info;  // what is RAM
    bool pci;
    struct pci_function function;  // pci
    // Register window: the mmio slot, or (pci) BAR 0.
    uint64_t registers;
    uint64_t register_span;
    // A range the attack must not move the target's BAR onto (another
    // NIC's BAR), or 0..0.
    uint64_t avoid_start, avoid_end;
};

struct hostile_report {
    uint64_t rounds;
    uint64_t operations;  // attack operations of every kind but single notifications
    uint64_t notifications;
    uint64_t register_accesses;
    uint64_t config_writes;  // device-specific configuration
    uint64_t pci_config_writes;
    uint64_t ring_attacks;
};

// Runs `rounds` rounds of attacks, calling `serve` between bursts (often:
// every few milliseconds at most) and printing "skiff-testguest: hostile
// round N ..." after each round. Leaves the target's PCI configuration
// space as it found it (BARs, command) but the device itself in whatever
// state the attack left: the caller resets and starts it again.
void hostile_run(const struct hostile_target *target, uint64_t rounds, uint64_t seed,
                 void (*serve)(void), struct hostile_report *report);
