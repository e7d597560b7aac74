// IPv4 settings from the command line, in the shape of Linux's
//   ip=<client>:<server>:<gateway>:<netmask>:<hostname>:<device>:<autoconf>
// (only client, gateway and netmask are used; trailing fields may be left
// out). One ip= word per NIC: the Nth ip= word configures netN, unless its
// device field names ethK or netK, which picks NIC K. A word whose client
// field is not an address (ip=dhcp, ip=off) leaves its NIC unconfigured.
// An empty netmask means 255.255.255.0.
#pragma once

#include "cmdline.h"

#include <stdbool.h>
#include <stdint.h>

#define NET_DEFAULT_NETMASK 0xffffff00u

struct net_address_config {
    bool configured;
    uint32_t address;  // host byte order
    uint32_t netmask;
    uint32_t gateway;  // 0: none
};

// Fills configs[0..count) from the ip= words (unmentioned NICs stay
// unconfigured). Words that do not parse are reported on the console.
void net_config_addresses(const struct cmdline *cmdline, struct net_address_config *configs,
                          unsigned count);

// Formats `address` as a dotted quad into `text` (at least 16 bytes).
void net_format_ipv4(char *text, uint32_t address);
