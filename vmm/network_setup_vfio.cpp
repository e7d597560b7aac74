#include "vmm/network_setup.h"

#include "devices/vfio/vfio_device.h"

#include <spdlog/spdlog.h>

namespace skiff::detail {

// Everything up to the VFIO device fd happens here, before /dev/kvm is
// opened: a host without an IOMMU or vfio-pci fails with one line, and a
// function bound to vfio-pci is given back when start-up fails later
// (PreparedNetwork::vfio's destructor).
Result<void> prepare_vfio_network(PreparedNetwork& prepared) {
    const net::NetConfig& config = prepared.config;
    vfio::PassthroughRequest request{
        .address = config.device, .pf = config.pf, .vf = config.vf, .mac = config.mac};
    auto device = vfio::open_passthrough(vfio::make_system_vfio_host(), request);
    if (!device.ok()) {
        return device.error().context(prepared.name);
    }
    prepared.vfio = std::shared_ptr<vfio::VfioDevice>(std::move(*device));
    spdlog::info("{}: PCI function {} passed through (VFIO){}", prepared.name, prepared.vfio->address(),
                 config.mac ? ", MAC " + config.mac->to_string() : "");
    return {};
}

}  // namespace skiff::detail
