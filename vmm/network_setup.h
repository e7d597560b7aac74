// The host side of a guest network interface, prepared before the VM
// exists so that a missing tap, bridge, /dev/vhost-net or IOMMU group is
// reported before /dev/kvm is opened, and nothing is left behind when
// start-up fails (a tap skiff created goes away with its fd; a macvtap it
// created is deleted; a device it rebound is given back).
//
// One function per mode prepares what that mode needs, each in its own
// file (network_setup_<mode>.cpp); prepare_network() dispatches.
#pragma once

#include "devices/virtio/vhost/vhost_backend.h"
#include "net/link_counters.h"
#include "net/mac_address.h"
#include "net/macvtap.h"
#include "net/net_config.h"
#include "net/tap.h"
#include "vmm/result.h"

#include <memory>
#include <string>

namespace skiff::vfio {
class VfioDevice;
}

namespace skiff {

struct PreparedNetwork {
    net::NetConfig config;
    std::string name;  // "net0": the guest-facing device, for logs
    // Modes tap, vhost and macvtap: the packet backend (a tap, or the
    // /dev/tapN of a macvtap) that the virtio-net device takes.
    std::unique_ptr<net::Tap> tap;
    // Mode macvtap: the interface, deleted with it if skiff created it. The
    // Machine keeps it until after the virtio-net device is gone.
    std::unique_ptr<net::Macvtap> macvtap;
    // Modes using vhost (vhost, macvtap with vhost=on): /dev/vhost-net,
    // owned (VHOST_SET_OWNER done), for the virtio-net device to drive.
    std::unique_ptr<vhost::VhostNetBackend> vhost;
    // Modes using vhost: the packet counters, from the kernel's statistics
    // of the tap or macvtap (opened now, before --chroot).
    std::unique_ptr<net::KernelLinkCounters> kernel_counters;
    net::MacAddress mac;
    uint16_t mtu = 1500;  // the host interface's, offered to the guest
    // Mode vfio: the function, bound to vfio-pci and opened (given back to
    // its driver when the last owner goes).
    std::shared_ptr<vfio::VfioDevice> vfio;
};

// Opens (or creates, or takes over) the host side of interface `index`;
// `instance` names the VM (for its default MAC addresses).
Result<PreparedNetwork> prepare_network(const net::NetConfig& config, unsigned index, std::string_view instance);

namespace detail {
// Per mode, filling `prepared` (config, name and default MAC already set).
Result<void> prepare_tap_network(PreparedNetwork& prepared);      // tap and vhost: the tap
Result<void> prepare_macvtap_network(PreparedNetwork& prepared);  // the macvtap and its /dev/tapN
Result<void> prepare_vfio_network(PreparedNetwork& prepared);     // the function bound to vfio-pci
Result<void> prepare_vhost(PreparedNetwork& prepared);            // /dev/vhost-net and counters, after the tap
}  // namespace detail

}  // namespace skiff
