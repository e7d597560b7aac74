#include "devices/vfio/sysfs_binding.h"

#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <spdlog/spdlog.h>

#include <charconv>
#include <cstring>
#include <utility>

namespace skiff::vfio {

namespace {

// The last component of a sysfs link target ("../../../kernel/iommu_groups/12" -> "12").
std::string_view basename(std::string_view path) {
    size_t slash = path.rfind('/');
    return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

std::optional<uint32_t> parse_number(std::string_view text) {
    uint32_t value = 0;
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
    if (error != std::errc() || end != text.data() + text.size() || text.empty()) {
        return std::nullopt;
    }
    return value;
}

// Drivers that do not make a group unviable (besides vfio-pci and none).
bool harmless_driver(std::string_view driver) {
    return driver == kVfioPciDriver || driver == "pci-stub" || driver == "pcieport";
}

}  // namespace

std::string pci_device_path(std::string_view address) { return fmt::format("sys/bus/pci/devices/{}", address); }

Result<std::string> resolve_virtual_function(const VfioHost& host, std::string_view pf, uint32_t vf) {
    std::string interface = fmt::format("sys/class/net/{}", pf);
    if (!host.exists(interface)) {
        return Error::format(
            "pf '{}' not found: no interface of that name in /sys/class/net (it shows the network namespace /sys was "
            "mounted in; run skiff where the PF is visible, or pass device=ADDRESS)",
            pf);
    }
    if (!host.exists(interface + "/device/sriov_totalvfs")) {
        return Error::format("pf '{}' is not an SR-IOV physical function (no device/sriov_totalvfs): pass a PF's "
                             "interface, or the VF's address with device=",
                             pf);
    }
    std::string link = fmt::format("{}/device/virtfn{}", interface, vf);
    if (!host.exists(link)) {
        auto enabled = host.read_file(interface + "/device/sriov_numvfs");
        return Error::format("pf '{}' has no VF {} (it has {}): raise /sys/class/net/{}/device/sriov_numvfs", pf, vf,
                             enabled.ok() ? *enabled : "?", pf);
    }
    auto target = TRY(host.read_link(link));
    return std::string(basename(target));
}

Result<std::pair<std::string, uint32_t>> find_physical_function(const VfioHost& host, std::string_view address) {
    std::string physfn = pci_device_path(address) + "/physfn";
    if (!host.exists(physfn)) {
        return Error::format("mac= needs a virtual function, and {} is none (no physfn): set the MAC in the guest",
                             address);
    }
    auto interfaces = host.list_directory(physfn + "/net");
    if (!interfaces.ok() || interfaces->empty()) {
        return Error::format("the PF of {} has no network interface here to set the VF's MAC through: use "
                             "pf=IF,vf=N or drop mac=",
                             address);
    }
    auto entries = TRY(host.list_directory(physfn));
    for (const std::string& entry : entries) {
        if (!entry.starts_with("virtfn")) {
            continue;
        }
        auto target = host.read_link(physfn + "/" + entry);
        auto number = parse_number(std::string_view(entry).substr(6));
        if (target.ok() && number && basename(*target) == address) {
            return std::pair<std::string, uint32_t>{interfaces->front(), *number};
        }
    }
    return Error::format("{} is not listed among its PF's virtual functions", address);
}

Result<void> check_pci_device(const VfioHost& host, std::string_view address) {
    if (!host.exists(pci_device_path(address))) {
        return Error::format("PCI device {} not found: no {} (check the address with lspci -D)", address,
                             "/" + pci_device_path(address));
    }
    return {};
}

Result<uint32_t> iommu_group_of(const VfioHost& host, std::string_view address) {
    std::string link = pci_device_path(address) + "/iommu_group";
    if (!host.exists(link)) {
        return Error::format("no IOMMU group for {}: enable VT-d/IOMMU in the firmware and the kernel command line "
                             "(intel_iommu=on or amd_iommu=on)",
                             address);
    }
    auto target = TRY(host.read_link(link));
    auto group = parse_number(basename(target));
    if (!group) {
        return Error::format("IOMMU group of {}: unexpected link target '{}'", address, target);
    }
    return *group;
}

std::optional<std::string> bound_driver(const VfioHost& host, std::string_view address) {
    std::string link = pci_device_path(address) + "/driver";
    if (!host.exists(link)) {
        return std::nullopt;
    }
    auto target = host.read_link(link);
    if (!target.ok()) {
        return std::nullopt;
    }
    return std::string(basename(*target));
}

Result<void> check_group_viable(const VfioHost& host, uint32_t group, std::string_view address) {
    auto devices = TRY(host.list_directory(fmt::format("sys/kernel/iommu_groups/{}/devices", group)));
    std::string others;
    for (const std::string& device : devices) {
        auto driver = bound_driver(host, device);
        if (driver && !harmless_driver(*driver)) {
            others += fmt::format("{}{} ({})", others.empty() ? "" : ", ", device, *driver);
        }
    }
    if (!others.empty()) {
        return Error::format("IOMMU group {} is not viable: all its devices must be bound to vfio-pci (also {}); "
                             "unbind them, or put {} in a slot with a group of its own",
                             group, others, address);
    }
    return {};
}

net::NetlinkMessage vf_mac_request(uint32_t pf_index, uint32_t vf, const net::MacAddress& mac) {
    auto message = net::NetlinkMessage::link(RTM_SETLINK, pf_index);
    size_t list = message.begin_nested(IFLA_VFINFO_LIST);
    size_t entry = message.begin_nested(IFLA_VF_INFO);
    ifla_vf_mac vf_mac{};
    vf_mac.vf = vf;
    std::memcpy(vf_mac.mac, mac.bytes.data(), mac.bytes.size());
    message.put(IFLA_VF_MAC, std::as_bytes(std::span<const ifla_vf_mac, 1>(&vf_mac, 1)));
    message.end_nested(entry);
    message.end_nested(list);
    return message;
}

net::NetlinkMessage vf_info_request(uint32_t pf_index) {
    auto message = net::NetlinkMessage::link(RTM_GETLINK, pf_index);
    message.put_u32(IFLA_EXT_MASK, RTEXT_FILTER_VF | RTEXT_FILTER_SKIP_STATS);
    return message;
}

std::optional<net::MacAddress> find_vf_mac(std::span<const uint8_t> link_payload, uint32_t vf) {
    std::optional<net::MacAddress> found;
    auto attributes = net::netlink_attributes_after<ifinfomsg>(link_payload);
    net::for_each_netlink_attribute(attributes, [&](unsigned type, auto list) {
        if (type != IFLA_VFINFO_LIST) {
            return;
        }
        net::for_each_netlink_attribute(list, [&](unsigned entry_type, auto entry) {
            if (entry_type != IFLA_VF_INFO) {
                return;
            }
            net::for_each_netlink_attribute(entry, [&](unsigned field, auto payload) {
                if (field != IFLA_VF_MAC || payload.size() < sizeof(ifla_vf_mac)) {
                    return;
                }
                ifla_vf_mac value;
                std::memcpy(&value, payload.data(), sizeof(value));
                if (value.vf == vf) {
                    net::MacAddress mac;
                    std::memcpy(mac.bytes.data(), value.mac, mac.bytes.size());
                    found = mac;
                }
            });
        });
    });
    return found;
}

Result<VfMacAssignment> VfMacAssignment::assign(std::shared_ptr<VfioHost> host, std::string_view pf, uint32_t vf,
                                                const net::MacAddress& mac) {
    VfMacAssignment assignment;
    assignment.pf_ = std::string(pf);
    assignment.vf_ = vf;
    assignment.pf_index_ = TRY(host->interface_index(pf));
    auto current = host->netlink(vf_info_request(assignment.pf_index_));
    if (current.ok() && current->error == 0 && current->type == RTM_NEWLINK) {
        assignment.original_ = find_vf_mac(current->payload, vf);
    }
    if (!assignment.original_) {
        spdlog::warn("VF {} of {}: its current MAC could not be read ({}): {} stays set after skiff exits", vf, pf,
                     !current.ok()            ? current.error().message
                     : current->error != 0    ? std::string(std::strerror(current->error))
                                              : std::string("the PF's driver does not report it"),
                     mac.to_string());
    }
    auto answer = TRY(host->netlink(vf_mac_request(assignment.pf_index_, vf, mac)));
    if (answer.error != 0) {
        return Error::format("setting the MAC of VF {} of {} to {}: {} (the PF's driver must allow it; skiff needs "
                             "CAP_NET_ADMIN)",
                             vf, pf, mac.to_string(), std::strerror(answer.error));
    }
    if (assignment.original_ && *assignment.original_ != mac) {
        assignment.host_ = std::move(host);
        assignment.pending_ = true;
        assignment.crash_slot_ =
            assignment.host_->remember_for_crash(vf_mac_request(assignment.pf_index_, vf, *assignment.original_));
    }
    return assignment;
}

VfMacAssignment::VfMacAssignment(VfMacAssignment&& other) noexcept
    : host_(std::move(other.host_)),
      pf_(std::move(other.pf_)),
      pf_index_(other.pf_index_),
      vf_(other.vf_),
      original_(other.original_),
      pending_(std::exchange(other.pending_, false)),
      crash_slot_(std::exchange(other.crash_slot_, std::nullopt)) {}

VfMacAssignment& VfMacAssignment::operator=(VfMacAssignment&& other) noexcept {
    if (this != &other) {
        restore();
        host_ = std::move(other.host_);
        pf_ = std::move(other.pf_);
        pf_index_ = other.pf_index_;
        vf_ = other.vf_;
        original_ = other.original_;
        pending_ = std::exchange(other.pending_, false);
        crash_slot_ = std::exchange(other.crash_slot_, std::nullopt);
    }
    return *this;
}

void VfMacAssignment::restore() {
    if (!pending_) {
        return;
    }
    pending_ = false;
    if (crash_slot_) {
        host_->forget_for_crash(*crash_slot_);
        crash_slot_.reset();
    }
    auto answer = host_->netlink(vf_mac_request(pf_index_, vf_, *original_));
    if (!answer.ok() || answer->error != 0) {
        spdlog::warn("VF {} of {}: giving back its MAC {}: {}: restore it with 'ip link set {} vf {} mac {}'", vf_, pf_,
                     original_->to_string(),
                     answer.ok() ? std::string(std::strerror(answer->error)) : answer.error().message, pf_, vf_,
                     original_->to_string());
        return;
    }
    spdlog::info("VF {} of {}: MAC {} given back", vf_, pf_, original_->to_string());
}

Result<DriverBinding> DriverBinding::bind_to_vfio_pci(std::shared_ptr<VfioHost> host, std::string address) {
    DriverBinding binding;
    binding.host_ = std::move(host);
    binding.address_ = std::move(address);
    VfioHost& sysfs = *binding.host_;
    std::string device = pci_device_path(binding.address_);
    binding.original_driver_ = bound_driver(sysfs, binding.address_);
    if (binding.original_driver_ == kVfioPciDriver) {
        spdlog::info("{}: already bound to vfio-pci", binding.address_);
        return binding;
    }
    auto override_now = sysfs.read_file(device + "/driver_override");
    if (override_now.ok() && *override_now != "(null)") {
        binding.original_override_ = *override_now;
    }
    // From here on, the destructor undoes what was done.
    binding.changed_ = true;
    TRY(sysfs.write_file(device + "/driver_override", kVfioPciDriver)
            .context_error(fmt::format("binding {} to vfio-pci (skiff needs root)", binding.address_)));
    if (binding.original_driver_) {
        TRY(sysfs.write_file(device + "/driver/unbind", binding.address_)
                .context_error(fmt::format("unbinding {} from {}", binding.address_, *binding.original_driver_)));
    }
    TRY(sysfs.write_file("sys/bus/pci/drivers_probe", binding.address_)
            .context_error(fmt::format("binding {} to vfio-pci", binding.address_)));
    if (bound_driver(sysfs, binding.address_) != kVfioPciDriver) {
        return Error::format("{} did not bind to vfio-pci: modprobe vfio-pci", binding.address_);
    }
    spdlog::info("{}: bound to vfio-pci (was {})", binding.address_, binding.original_driver_.value_or("unbound"));
    return binding;
}

DriverBinding::DriverBinding(DriverBinding&& other) noexcept
    : host_(std::move(other.host_)),
      address_(std::move(other.address_)),
      original_driver_(std::move(other.original_driver_)),
      original_override_(std::move(other.original_override_)),
      changed_(std::exchange(other.changed_, false)) {}

DriverBinding& DriverBinding::operator=(DriverBinding&& other) noexcept {
    if (this != &other) {
        restore();
        host_ = std::move(other.host_);
        address_ = std::move(other.address_);
        original_driver_ = std::move(other.original_driver_);
        original_override_ = std::move(other.original_override_);
        changed_ = std::exchange(other.changed_, false);
    }
    return *this;
}

void DriverBinding::restore() {
    if (!changed_) {
        return;
    }
    changed_ = false;
    VfioHost& sysfs = *host_;
    std::string device = pci_device_path(address_);
    auto warn = [this](const Result<void>& status) {
        if (!status.ok()) {
            spdlog::warn("giving {} back to {}: {}", address_, original_driver_.value_or("no driver"),
                         status.error().message);
        }
    };
    if (bound_driver(sysfs, address_) == kVfioPciDriver) {
        warn(sysfs.write_file(device + "/driver/unbind", address_));
    }
    // An empty line clears driver_override.
    warn(sysfs.write_file(device + "/driver_override", original_override_.empty() ? "\n" : original_override_));
    if (original_driver_) {
        warn(sysfs.write_file("sys/bus/pci/drivers_probe", address_));
        spdlog::info("{}: given back to {}", address_, bound_driver(sysfs, address_).value_or("no driver"));
    } else {
        spdlog::info("{}: unbound from vfio-pci (it had no driver before)", address_);
    }
}

}  // namespace skiff::vfio
