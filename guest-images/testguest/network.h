// The test guest's network mode: finds virtio-net devices (virtio-mmio
// from the command line and skiff's slots, virtio-pci on bus 0), starts up
// to NETWORK_MAX_INTERFACES of them with their ip= settings, reports them
// and then serves forever:
//   serve (default): answers ARP, ICMP echo and UDP echo (port 7);
//   sink: the same, and reports received-frame counts;
//   flood: the same, and sends UDP datagrams to testguest.flood_dst.
// A byte typed on the console prints every NIC's counters.
#pragma once

#include "boot_info.h"
#include "cmdline.h"

#define NETWORK_MAX_INTERFACES 4

// `mode` is the testguest.mode= option or NULL. Returns only when no NIC
// could be started (saying so on the console when a mode was asked for).
void network_run(const struct cmdline *cmdline, const struct boot_info *info,
                 const struct cmdline_option *mode);
