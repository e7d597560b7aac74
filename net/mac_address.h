// An Ethernet MAC address: parsing and printing in the usual
// "02:12:34:56:78:9a" form, and the default address skiff gives a guest
// interface that has none configured.
#pragma once

#include "vmm/result.h"

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::net {

struct MacAddress {
    std::array<uint8_t, 6> bytes{};

    // Bit 0 of the first octet: a group (multicast or broadcast) address,
    // which no interface may have as its own.
    [[nodiscard]] bool is_multicast() const { return (bytes[0] & 0x01) != 0; }
    // Bit 1 of the first octet: not assigned by a vendor (IEEE 802 "U/L" bit).
    [[nodiscard]] bool is_locally_administered() const { return (bytes[0] & 0x02) != 0; }
    [[nodiscard]] bool is_zero() const;
    // Lower-case, colon-separated: "02:12:34:56:78:9a".
    [[nodiscard]] std::string to_string() const;

    // Exactly six pairs of hex digits separated by ':' (either case).
    // Any address, including multicast: the caller decides what it accepts.
    static Result<MacAddress> parse(std::string_view text);

    bool operator==(const MacAddress&) const = default;
};

// A locally administered unicast address (02:xx:xx:xx:xx:ii) that is the
// same for the same VM instance and interface index, and differs between
// instances with high probability: four bytes of a hash of `instance`
// (e.g. the VM's id, or its pid and start time) and the interface index in
// the last byte. Two VMs on one bridge need different instance strings.
MacAddress default_mac_address(std::string_view instance, uint8_t interface_index);

}  // namespace skiff::net
