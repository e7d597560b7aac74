#include "vmm/network_setup.h"

#include "devices/virtio/vhost/vhost_kernel.h"
#include "devices/virtio/virtio.h"

#include <spdlog/spdlog.h>

namespace skiff::detail {

Result<void> prepare_vhost(PreparedNetwork& prepared) {
    // The packet backend is already open; on failure the caller drops
    // `prepared` and with it the tap (a tap skiff created goes with its fd).
    auto device = TRY(vhost::open_vhost_net().context_error(prepared.name));
    uint64_t features = TRY(device->get_features().context_error(prepared.name));
    if (!virtio::has_feature(features, virtio::feature::kVersion1)) {
        return Error::format("{}: /dev/vhost-net lacks VIRTIO_F_VERSION_1 (features {:#x}): the host kernel is too "
                             "old for vhost with virtio 1.x; use mode=tap",
                             prepared.name, features);
    }
    spdlog::info("{}: vhost-net (features {:#x}) on {}", prepared.name, features,
                 prepared.tap ? prepared.tap->name() : std::string("?"));
    prepared.vhost = std::move(device);
    // skiff sees none of the packets: the kernel's counters of the backend
    // interface stand in for its own (zeros and a warning if unusable).
    if (prepared.tap) {
        net::LinkKind kind = prepared.macvtap ? net::LinkKind::Macvtap : net::LinkKind::Tap;
        prepared.kernel_counters = net::KernelLinkCounters::open(prepared.tap->name(), kind, prepared.name);
    }
    return {};
}

}  // namespace skiff::detail
