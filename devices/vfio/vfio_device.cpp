#include "devices/vfio/vfio_device.h"

#include "devices/vfio/vfio_abi.h"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cstring>
#include <thread>

namespace skiff::vfio {

namespace {

// The regions skiff uses: the six BARs, the expansion ROM and the
// configuration space.
constexpr uint32_t kRegionsUsed = abi::kConfigRegion + 1;

bool in_region(const RegionInfo& region, uint64_t offset, uint64_t length) {
    return offset <= region.size && length <= region.size - offset;
}

}  // namespace

Result<int> VfioDevice::call(int fd, unsigned long request, void* argument, std::string_view what) const {
    int result = host_->ioctl(fd, request, argument);
    if (result < 0) {
        return Error::format("{} ({}): {}", what, address(), std::strerror(-result));
    }
    return result;
}

Result<std::unique_ptr<VfioDevice>> VfioDevice::open(std::shared_ptr<VfioHost> host, DriverBinding binding,
                                                     uint32_t group) {
    std::unique_ptr<VfioDevice> device(new VfioDevice(std::move(host), std::move(binding)));
    TRY(device->open_container());
    TRY(device->open_group(group));
    TRY(device->open_device());
    return device;
}

Result<void> VfioDevice::open_container() {
    if (!host_->exists("dev/vfio/vfio")) {
        return Error{"/dev/vfio/vfio not found: modprobe vfio-pci"};
    }
    container_ = TRY(host_->open_device("dev/vfio/vfio").context_error("VFIO container (skiff needs root)"));
    int version = TRY(call(container_.get(), VFIO_GET_API_VERSION, nullptr, "VFIO_GET_API_VERSION"));
    if (version != VFIO_API_VERSION) {
        return Error::format("VFIO API version {} (skiff speaks {}): a kernel this old or new is not supported",
                             version, VFIO_API_VERSION);
    }
    int type1 = TRY(call(container_.get(), VFIO_CHECK_EXTENSION, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU}),
                         "VFIO_CHECK_EXTENSION"));
    if (type1 <= 0) {
        return Error{"the kernel's VFIO has no type 1 IOMMU (v2): modprobe vfio_iommu_type1"};
    }
    return {};
}

Result<void> VfioDevice::open_group(uint32_t group) {
    group_number_ = group;
    std::string path = fmt::format("dev/vfio/{}", group);
    // udev may create the node a moment after the bind.
    for (int attempt = 0; attempt < 50 && !host_->exists(path); ++attempt) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    auto opened = host_->open_device(path);
    if (!opened.ok()) {
        return Error::format("IOMMU group {} of {}: {} (is another VM using it?)", group, address(),
                             opened.error().message);
    }
    group_ = std::move(*opened);
    vfio_group_status status{};
    status.argsz = sizeof(status);
    TRY(call(group_.get(), VFIO_GROUP_GET_STATUS, &status, "VFIO_GROUP_GET_STATUS"));
    if ((status.flags & VFIO_GROUP_FLAGS_VIABLE) == 0) {
        return Error::format("IOMMU group {} is not viable: all its devices must be bound to vfio-pci "
                             "(see /sys/kernel/iommu_groups/{}/devices)",
                             group, group);
    }
    int container_fd = container_.get();
    TRY(call(group_.get(), VFIO_GROUP_SET_CONTAINER, &container_fd, "VFIO_GROUP_SET_CONTAINER"));
    TRY(call(container_.get(), VFIO_SET_IOMMU, reinterpret_cast<void*>(uintptr_t{VFIO_TYPE1v2_IOMMU}),
             "VFIO_SET_IOMMU"));
    return {};
}

Result<void> VfioDevice::open_device() {
    std::string name = address();
    int fd = TRY(call(group_.get(), VFIO_GROUP_GET_DEVICE_FD, name.data(), "VFIO_GROUP_GET_DEVICE_FD"));
    device_ = UniqueFd(fd);
    info_ = {};
    info_.argsz = sizeof(info_);
    TRY(call(device_.get(), VFIO_DEVICE_GET_INFO, &info_, "VFIO_DEVICE_GET_INFO"));
    if ((info_.flags & VFIO_DEVICE_FLAGS_PCI) == 0 || info_.num_regions < kRegionsUsed) {
        return Error::format("{} is not a vfio-pci device (flags {:#x}, {} regions)", address(), info_.flags,
                             info_.num_regions);
    }
    for (uint32_t index = 0; index < kRegionsUsed; ++index) {
        regions_.push_back(TRY(query_region(index)));
    }
    for (uint32_t index : {abi::kMsiIrq, abi::kMsixIrq}) {
        if (index >= info_.num_irqs) {
            continue;
        }
        vfio_irq_info irq{};
        irq.argsz = sizeof(irq);
        irq.index = index;
        TRY(call(device_.get(), VFIO_DEVICE_GET_IRQ_INFO, &irq, "VFIO_DEVICE_GET_IRQ_INFO"));
        irqs_.push_back(IrqInfo{.index = index, .flags = irq.flags, .count = irq.count});
    }
    if ((info_.flags & VFIO_DEVICE_FLAGS_RESET) != 0) {
        TRY(call(device_.get(), VFIO_DEVICE_RESET, nullptr, "VFIO_DEVICE_RESET"));
    }
    return {};
}

Result<RegionInfo> VfioDevice::query_region(uint32_t index) const {
    // First with the fixed part only; the kernel raises argsz when the
    // region has capabilities (the sparse mmap areas), then again with room.
    std::vector<uint8_t> buffer(sizeof(vfio_region_info));
    vfio_region_info info{};
    for (int round = 0; round < 2; ++round) {
        info = {};
        info.argsz = static_cast<uint32_t>(buffer.size());
        info.index = index;
        std::memcpy(buffer.data(), &info, sizeof(info));
        TRY(call(device_.get(), VFIO_DEVICE_GET_REGION_INFO, buffer.data(), "VFIO_DEVICE_GET_REGION_INFO"));
        std::memcpy(&info, buffer.data(), sizeof(info));
        if (info.argsz <= buffer.size() || (info.flags & VFIO_REGION_INFO_FLAG_CAPS) == 0 || round == 1 ||
            info.argsz > 65536) {
            break;
        }
        buffer.assign(info.argsz, 0);
    }
    RegionInfo region{.index = index, .flags = info.flags, .size = info.size, .offset = info.offset, .sparse_areas = {}};
    if ((info.flags & VFIO_REGION_INFO_FLAG_CAPS) == 0 || info.cap_offset == 0) {
        return region;
    }
    // Walk the capability chain inside what the kernel filled in.
    uint64_t at = info.cap_offset;
    for (int hops = 0; hops < 16 && at >= sizeof(vfio_region_info) && at + sizeof(abi::CapabilityHeader) <= buffer.size();
         ++hops) {
        abi::CapabilityHeader header;
        std::memcpy(&header, buffer.data() + at, sizeof(header));
        if (header.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP && at + sizeof(abi::SparseMmapHeader) <= buffer.size()) {
            abi::SparseMmapHeader sparse;
            std::memcpy(&sparse, buffer.data() + at, sizeof(sparse));
            std::vector<std::pair<uint64_t, uint64_t>> areas;
            uint64_t area_at = at + sizeof(sparse);
            for (uint32_t i = 0; i < sparse.nr_areas && area_at + sizeof(abi::SparseMmapArea) <= buffer.size(); ++i) {
                abi::SparseMmapArea area;
                std::memcpy(&area, buffer.data() + area_at, sizeof(area));
                areas.emplace_back(area.offset, area.size);
                area_at += sizeof(area);
            }
            region.sparse_areas = std::move(areas);
        }
        if (header.next == 0 || header.next <= at) {
            break;
        }
        at = header.next;
    }
    return region;
}

VfioDevice::~VfioDevice() {
    for (auto it = before_release_.rbegin(); it != before_release_.rend(); ++it) {
        (*it)();
    }
    for (auto it = dma_.rbegin(); it != dma_.rend(); ++it) {
        vfio_iommu_type1_dma_unmap unmap{};
        unmap.argsz = sizeof(unmap);
        unmap.iova = it->iova;
        unmap.size = it->size;
        int result = host_->ioctl(container_.get(), VFIO_IOMMU_UNMAP_DMA, &unmap);
        if (result < 0) {
            spdlog::warn("{}: VFIO_IOMMU_UNMAP_DMA {:#x}+{:#x}: {}", address(), it->iova, it->size,
                         std::strerror(-result));
        }
    }
    device_.reset();
    group_.reset();
    container_.reset();
    vf_mac_.restore();
    binding_.restore();
}

Result<void> VfioDevice::map_dma(const GuestMemory& memory) {
    for (const GuestRegion& region : memory.regions()) {
        vfio_iommu_type1_dma_map map{};
        map.argsz = sizeof(map);
        map.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE;
        map.vaddr = reinterpret_cast<uintptr_t>(region.host);
        map.iova = region.start.value();
        map.size = region.size;
        auto status = call(container_.get(), VFIO_IOMMU_MAP_DMA, &map, "VFIO_IOMMU_MAP_DMA");
        if (!status.ok()) {
            return status.error().context(
                fmt::format("mapping guest RAM {:#x}+{:#x} for DMA (raise the memlock limit: ulimit -l)",
                            region.start.value(), region.size));
        }
        dma_.push_back(DmaMapping{map.iova, map.size});
    }
    return {};
}

const RegionInfo* VfioDevice::region(uint32_t index) const {
    for (const RegionInfo& region : regions_) {
        if (region.index == index && region.size > 0) {
            return &region;
        }
    }
    return nullptr;
}

const IrqInfo* VfioDevice::irq(uint32_t index) const {
    for (const IrqInfo& irq : irqs_) {
        if (irq.index == index && irq.count > 0) {
            return &irq;
        }
    }
    return nullptr;
}

Result<void> VfioDevice::read_region(uint32_t index, uint64_t offset, std::span<uint8_t> data) const {
    const RegionInfo* info = region(index);
    if (info == nullptr || !in_region(*info, offset, data.size())) {
        return Error::format("{}: read outside region {} ({:#x}+{})", address(), index, offset, data.size());
    }
    return host_->pread(device_.get(), data, info->offset + offset);
}

Result<void> VfioDevice::write_region(uint32_t index, uint64_t offset, std::span<const uint8_t> data) const {
    const RegionInfo* info = region(index);
    if (info == nullptr || !in_region(*info, offset, data.size())) {
        return Error::format("{}: write outside region {} ({:#x}+{})", address(), index, offset, data.size());
    }
    return host_->pwrite(device_.get(), data, info->offset + offset);
}

Result<MemoryMapping> VfioDevice::map_region(uint32_t index, uint64_t offset, uint64_t size) const {
    const RegionInfo* info = region(index);
    if (info == nullptr || !info->mappable() || !in_region(*info, offset, size)) {
        return Error::format("{}: region {} cannot be mapped at {:#x}+{:#x}", address(), index, offset, size);
    }
    return host_->mmap(device_.get(), size, info->offset + offset);
}

Result<void> VfioDevice::set_irq_eventfds(uint32_t index, uint32_t start, std::span<const int> fds) const {
    std::vector<uint8_t> buffer(sizeof(abi::IrqSetHeader) + fds.size() * sizeof(int32_t));
    abi::IrqSetHeader header{};
    header.argsz = static_cast<uint32_t>(buffer.size());
    header.flags = VFIO_IRQ_SET_ACTION_TRIGGER | (fds.empty() ? VFIO_IRQ_SET_DATA_NONE : VFIO_IRQ_SET_DATA_EVENTFD);
    header.index = index;
    header.start = start;
    header.count = static_cast<uint32_t>(fds.size());
    std::memcpy(buffer.data(), &header, sizeof(header));
    for (size_t i = 0; i < fds.size(); ++i) {
        int32_t fd = fds[i];
        std::memcpy(buffer.data() + sizeof(header) + i * sizeof(fd), &fd, sizeof(fd));
    }
    TRY(call(device_.get(), VFIO_DEVICE_SET_IRQS, buffer.data(), "VFIO_DEVICE_SET_IRQS"));
    return {};
}

Result<void> VfioDevice::disable_irq(uint32_t index) const { return set_irq_eventfds(index, 0, {}); }

Result<std::unique_ptr<VfioDevice>> open_passthrough(std::shared_ptr<VfioHost> host,
                                                     const PassthroughRequest& request) {
    std::string address = request.address;
    if (address.empty()) {
        address = TRY(resolve_virtual_function(*host, request.pf, request.vf.value_or(0)));
    }
    TRY(check_pci_device(*host, address));
    uint32_t group = TRY(iommu_group_of(*host, address));
    if (!host->exists("dev/vfio/vfio")) {
        return Error{"/dev/vfio/vfio not found: modprobe vfio-pci"};
    }
    VfMacAssignment vf_mac;  // given back if anything below fails
    if (request.mac) {
        std::string pf = request.pf;
        uint32_t vf = request.vf.value_or(0);
        if (pf.empty()) {
            auto found = TRY(find_physical_function(*host, address));
            pf = found.first;
            vf = found.second;
        }
        vf_mac = TRY(VfMacAssignment::assign(host, pf, vf, *request.mac));
        spdlog::info("{}: VF {} of {} has MAC {} (was {})", address, vf, pf, request.mac->to_string(),
                     vf_mac.original() ? vf_mac.original()->to_string() : "unknown");
    }
    DriverBinding binding = TRY(DriverBinding::bind_to_vfio_pci(host, address));
    TRY(check_group_viable(*host, group, address));
    auto device = TRY(VfioDevice::open(std::move(host), std::move(binding), group));
    device->hold_vf_mac(std::move(vf_mac));
    spdlog::info("{}: VFIO device in IOMMU group {}, {} regions, {} IRQ indexes", address, group,
                 device->info().num_regions, device->info().num_irqs);
    return device;
}

}  // namespace skiff::vfio
