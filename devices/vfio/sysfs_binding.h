// The sysfs side of passing a PCI function through: finding it (by address,
// or as VF N of an SR-IOV PF's interface), its IOMMU group, and binding it
// to vfio-pci for the VM's lifetime.
//
// The PF is looked up in /sys/class/net, which shows the interfaces of the
// network namespace sysfs was mounted in (not necessarily skiff's own: a
// process that entered another namespace without remounting /sys sees the
// old one). The PF must therefore be visible where skiff's /sys was
// mounted; by PCI address (device=) there is no such dependence.
//
// Binding follows the kernel's documented way (Documentation/driver-api/
// vfio.rst): driver_override = vfio-pci, unbind from the current driver,
// drivers_probe. DriverBinding undoes it when destroyed: unbind from
// vfio-pci, restore driver_override, re-probe so the original driver takes
// the function back. The function must be released first (its VFIO fds
// closed): vfio-pci's unbind waits for that.
#pragma once

#include "devices/vfio/vfio_host.h"
#include "net/mac_address.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace skiff::vfio {

inline constexpr std::string_view kVfioPciDriver = "vfio-pci";

// sysfs paths, relative to the host's root.
std::string pci_device_path(std::string_view address);  // "sys/bus/pci/devices/ADDRESS"

// The PCI address of virtual function `vf` of the PF behind interface `pf`
// (/sys/class/net/PF/device/virtfnN). Errors: no such interface, not an
// SR-IOV PF, not that many VFs enabled.
[[nodiscard]] Result<std::string> resolve_virtual_function(const VfioHost& host, std::string_view pf, uint32_t vf);
// The PF interface and VF number of the virtual function at `address`
// (its physfn link), for setting its MAC when it was named by address.
[[nodiscard]] Result<std::pair<std::string, uint32_t>> find_physical_function(const VfioHost& host,
                                                                              std::string_view address);
// Fails with "PCI device ... not found" when sysfs has no such function.
[[nodiscard]] Result<void> check_pci_device(const VfioHost& host, std::string_view address);
// The function's IOMMU group number; fails (with the fix) without an IOMMU.
[[nodiscard]] Result<uint32_t> iommu_group_of(const VfioHost& host, std::string_view address);
// The driver bound to the function, if any ("ixgbevf", "vfio-pci", ...).
[[nodiscard]] std::optional<std::string> bound_driver(const VfioHost& host, std::string_view address);
// Every function of the group must be bound to vfio-pci or to no driver
// (bridges and pci-stub are fine too); the error names the others.
[[nodiscard]] Result<void> check_group_viable(const VfioHost& host, uint32_t group, std::string_view address);

// The VF's MAC, set through its PF: RTM_SETLINK on the PF with
// IFLA_VFINFO_LIST { IFLA_VF_INFO { IFLA_VF_MAC {vf, mac} } }.
[[nodiscard]] net::NetlinkMessage vf_mac_request(uint32_t pf_index, uint32_t vf, const net::MacAddress& mac);
// Reading it: RTM_GETLINK on the PF with IFLA_EXT_MASK RTEXT_FILTER_VF
// (statistics skipped); the answer's RTM_NEWLINK carries the same nesting.
[[nodiscard]] net::NetlinkMessage vf_info_request(uint32_t pf_index);
// VF `vf`'s MAC in an RTM_NEWLINK payload (ifinfomsg, then attributes), or
// nullopt when the PF's driver did not report it.
[[nodiscard]] std::optional<net::MacAddress> find_vf_mac(std::span<const uint8_t> link_payload, uint32_t vf);

// A MAC skiff gave a VF (mac=), and the one it had before, given back when
// this is destroyed or restore() is called - and, should skiff die of a
// crash signal, by the handler of net/created_links.h, which sends the
// ready-built request. Reading the old MAC needs a PF driver that reports
// its VFs (all SR-IOV drivers do); when it cannot be read, the new MAC is
// set anyway and a warning says it will stay.
class VfMacAssignment final {
public:
    [[nodiscard]] static Result<VfMacAssignment> assign(std::shared_ptr<VfioHost> host, std::string_view pf,
                                                        uint32_t vf, const net::MacAddress& mac);

    VfMacAssignment() = default;
    ~VfMacAssignment() { restore(); }
    VfMacAssignment(VfMacAssignment&& other) noexcept;
    VfMacAssignment& operator=(VfMacAssignment&& other) noexcept;
    VfMacAssignment(const VfMacAssignment&) = delete;
    VfMacAssignment& operator=(const VfMacAssignment&) = delete;

    // Gives the VF its old MAC back (idempotent); problems are logged, not
    // returned: this runs on teardown paths. Sends one rtnetlink request,
    // by the PF's index (no name lookup: it runs under the event loop's
    // seccomp filter).
    void restore();

    // Whether restore() has something to do.
    [[nodiscard]] bool pending() const { return pending_; }
    [[nodiscard]] const std::optional<net::MacAddress>& original() const { return original_; }

private:
    std::shared_ptr<VfioHost> host_;
    std::string pf_;
    uint32_t pf_index_ = 0;
    uint32_t vf_ = 0;
    std::optional<net::MacAddress> original_;
    bool pending_ = false;
    std::optional<size_t> crash_slot_;  // in net::CreatedLinks, while pending_
};

class DriverBinding final {
public:
    // Binds `address` to vfio-pci (nothing to do, and nothing to undo, when
    // it already is). On failure the function is given back before
    // returning.
    [[nodiscard]] static Result<DriverBinding> bind_to_vfio_pci(std::shared_ptr<VfioHost> host, std::string address);

    DriverBinding() = default;
    ~DriverBinding() { restore(); }
    DriverBinding(DriverBinding&& other) noexcept;
    DriverBinding& operator=(DriverBinding&& other) noexcept;
    DriverBinding(const DriverBinding&) = delete;
    DriverBinding& operator=(const DriverBinding&) = delete;

    // Gives the function back to its original driver (idempotent); problems
    // are logged, not returned: this runs on teardown paths.
    void restore();

    [[nodiscard]] const std::string& address() const { return address_; }
    [[nodiscard]] const std::optional<std::string>& original_driver() const { return original_driver_; }
    [[nodiscard]] bool changed() const { return changed_; }

private:
    std::shared_ptr<VfioHost> host_;
    std::string address_;
    std::optional<std::string> original_driver_;
    std::string original_override_;  // empty: none
    bool changed_ = false;
};

}  // namespace skiff::vfio
