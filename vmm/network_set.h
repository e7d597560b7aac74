// The checks a whole set of network interfaces needs that no single one
// can show: two interfaces of one VM on the same host device, fd, MAC,
// PCI function or id, and more interfaces than the guest's buses have room
// for. Run on every set before anything is created: by the command line
// (exit 2), at each PUT /network-interfaces (400, with the set as it would
// become) and again by Machine::build.
#pragma once

#include "boot/layout.h"
#include "devices/pci/pci_root.h"
#include "net/net_config.h"
#include "vmm/result.h"

#include <cstddef>
#include <span>
#include <string>

namespace skiff {

// virtio-mmio slots (each with its own IRQ), and PCI slots beside the host
// bridge's: the most interfaces each transport can take.
inline constexpr size_t kMaxMmioInterfaces = layout::kVirtioMmioSlots;
inline constexpr size_t kMaxPciInterfaces = pci::kSlotCount - 1;

// An interface's name in messages: its id, or "netN" by its position.
[[nodiscard]] std::string network_label(const net::NetConfig& config, size_t index);

// Errors name both interfaces and what they share, e.g. "net0 and net1
// both use the host interface 'tap0': give each interface its own tap or
// macvtap"; or the count and the transport's room.
[[nodiscard]] Result<void> check_network_set(std::span<const net::NetConfig> networks);

}  // namespace skiff
