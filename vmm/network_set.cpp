#include "vmm/network_set.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <vector>

namespace skiff {

namespace {

// Something an interface takes on the host or in the guest. Two claims of
// one key conflict when either is exclusive (all are, except a macvtap's
// link, which only macvtap-mode=passthru takes for itself).
struct Claim {
    std::string key;       // kind and value, e.g. "fd 5"
    std::string resource;  // for the message: "fd 5"
    std::string advice;
    bool exclusive = true;
};

std::vector<Claim> claims_of(const net::NetConfig& config) {
    std::vector<Claim> claims;
    // Taps and macvtaps share one namespace of interface names.
    if (config.mode != net::NetMode::Vfio && !config.ifname.empty()) {
        claims.push_back({"interface " + config.ifname, fmt::format("the host interface '{}'", config.ifname),
                          "give each interface its own tap or macvtap", true});
    }
    if (config.fd) {
        claims.push_back({fmt::format("fd {}", *config.fd), fmt::format("fd {}", *config.fd),
                          "give each interface its own open tap (skiff takes over and closes each fd)", true});
    }
    if (config.mac) {
        std::string mac = config.mac->to_string();
        claims.push_back({"mac " + mac, "the guest MAC " + mac, "give each interface its own", true});
    }
    if (!config.id.empty()) {
        claims.push_back({"id " + config.id, fmt::format("the id '{}'", config.id), "give each interface its own",
                          true});
    }
    if (!config.device.empty()) {
        claims.push_back({"pci " + config.device, "the PCI function " + config.device,
                          "a function can be passed through once", true});
    }
    if (!config.pf.empty() && config.vf) {
        claims.push_back({fmt::format("vf {} {}", config.pf, *config.vf),
                          fmt::format("VF {} of {}", *config.vf, config.pf), "a function can be passed through once",
                          true});
    }
    if (config.mode == net::NetMode::Macvtap && !config.link.empty()) {
        bool passthru = config.macvtap_mode == net::MacvtapMode::Passthru;
        claims.push_back({"link " + config.link, fmt::format("the link {} for a macvtap", config.link),
                          "macvtap-mode passthru gives one macvtap a link for itself: use bridge mode (the "
                          "default) for both, or another link",
                          passthru});
    }
    return claims;
}

Result<void> check_counts(std::span<const net::NetConfig> networks) {
    auto on_pci = [](const net::NetConfig& config) {
        return config.mode == net::NetMode::Vfio || config.transport == net::NetTransport::Pci;
    };
    auto pci = static_cast<size_t>(std::count_if(networks.begin(), networks.end(), on_pci));
    size_t mmio = networks.size() - pci;
    if (mmio > kMaxMmioInterfaces) {
        return Error::format("{} interfaces are on virtio-mmio, which has room for {}: put the others on PCI "
                             "(transport pci)",
                             mmio, kMaxMmioInterfaces);
    }
    if (pci > kMaxPciInterfaces) {
        return Error::format("{} interfaces are on PCI (transport pci, and every vfio function), which has room "
                             "for {}",
                             pci, kMaxPciInterfaces);
    }
    return {};
}

}  // namespace

std::string network_label(const net::NetConfig& config, size_t index) {
    return config.id.empty() ? fmt::format("net{}", index) : config.id;
}

Result<void> check_network_set(std::span<const net::NetConfig> networks) {
    TRY(check_counts(networks));
    struct Taken {
        size_t owner;
        bool exclusive;
    };
    std::map<std::string, Taken> taken;
    for (size_t index = 0; index < networks.size(); ++index) {
        for (const Claim& claim : claims_of(networks[index])) {
            auto [found, inserted] = taken.try_emplace(claim.key, Taken{index, claim.exclusive});
            if (inserted || (!found->second.exclusive && !claim.exclusive)) {
                continue;
            }
            size_t first = found->second.owner;
            // Ids are the labels: name the interfaces by position instead.
            bool by_position = claim.key.starts_with("id ");
            return Error::format("{} and {} both use {}: {}",
                                 by_position ? fmt::format("interface {}", first + 1)
                                             : network_label(networks[first], first),
                                 by_position ? fmt::format("interface {}", index + 1)
                                             : network_label(networks[index], index),
                                 claim.resource, claim.advice);
        }
    }
    return {};
}

}  // namespace skiff
