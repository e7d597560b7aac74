#include "devices/vfio/vfio_device.h"
#include "fake_vfio_host.h"

#include <catch2/catch.hpp>

using namespace skiff;
using namespace skiff::vfio;
using skiff::test::FakeVfioHost;

namespace {

std::shared_ptr<FakeVfioHost> standard() {
    auto host = std::make_shared<FakeVfioHost>();
    host->standard_host();
    return host;
}

PassthroughRequest by_pf(uint32_t vf) { return PassthroughRequest{.address = "", .pf = "eth1", .vf = vf, .mac = {}}; }

}  // namespace

TEST_CASE("opening a VF runs the container, group and device ioctls in the kernel's order", "[vfio]") {
    auto host = standard();
    auto device = open_passthrough(host, by_pf(0));
    REQUIRE(device.ok());
    CHECK(host->ioctl_log == std::vector<std::string>{
                                 "container GET_API_VERSION",
                                 "container CHECK_EXTENSION 3",
                                 "group 12 GET_STATUS",
                                 "group 12 SET_CONTAINER",
                                 "container SET_IOMMU 3",
                                 "group 12 GET_DEVICE_FD 0000:03:10.2",
                                 "device GET_INFO",
                                 "device GET_REGION_INFO 0",
                                 "device GET_REGION_INFO 1",
                                 "device GET_REGION_INFO 2",
                                 "device GET_REGION_INFO 3",
                                 "device GET_REGION_INFO 4",
                                 "device GET_REGION_INFO 5",
                                 "device GET_REGION_INFO 6",
                                 "device GET_REGION_INFO 7",
                                 "device GET_IRQ_INFO 1",
                                 "device GET_IRQ_INFO 2",
                                 "device RESET",
                             });
    const VfioDevice& opened = **device;
    CHECK(opened.address() == test::kVfAddress);
    CHECK(opened.group() == test::kVfGroup);
    REQUIRE(opened.region(0) != nullptr);
    CHECK(opened.region(0)->size == 0x8000);
    CHECK(opened.region(0)->mappable());
    CHECK(opened.region(0)->offset == 0);
    CHECK(opened.region(1) == nullptr);  // upper half of BAR0
    CHECK(opened.region(7)->offset == uint64_t{7} << 40);
    CHECK(opened.irq(VFIO_PCI_MSIX_IRQ_INDEX)->count == 3);
    CHECK(opened.irq(VFIO_PCI_MSI_IRQ_INDEX)->count == 1);
    CHECK(host->driver_of(test::kVfAddress) == "vfio-pci");
}

TEST_CASE("DMA maps cover every guest RAM region and go, in reverse, before the function is given back", "[vfio]") {
    auto host = standard();
    auto memory = GuestMemory::create({{GuestAddress(0), 0x200000}, {GuestAddress(0x100000000), 0x100000}});
    REQUIRE(memory.ok());
    {
        auto device = open_passthrough(host, by_pf(0));
        REQUIRE(device.ok());
        host->ioctl_log.clear();
        REQUIRE((*device)->map_dma(*memory).ok());
        REQUIRE(host->dma.size() == 2);
        for (const GuestRegion& region : memory->regions()) {
            REQUIRE(host->dma.contains(region.start.value()));
            CHECK(host->dma[region.start.value()].first == reinterpret_cast<uintptr_t>(region.host));
            CHECK(host->dma[region.start.value()].second == region.size);
        }
        CHECK(host->ioctl_log == std::vector<std::string>{
                                     "container MAP_DMA iova=0x0 size=0x200000 flags=3",
                                     "container MAP_DMA iova=0x100000000 size=0x100000 flags=3",
                                 });
        // What KVM's VFIO device needs undone runs first, fds still open.
        bool hook_saw_open_device = false;
        size_t hook_saw_dma = 0;
        (*device)->before_release([&] {
            hook_saw_open_device = host->device_open();
            hook_saw_dma = host->dma.size();
        });
        host->ioctl_log.clear();
        host->sysfs_log.clear();
        device->reset();
        CHECK(hook_saw_open_device);
        CHECK(hook_saw_dma == 2);
    }
    CHECK(host->ioctl_log == std::vector<std::string>{
                                 "container UNMAP_DMA iova=0x100000000 size=0x100000",
                                 "container UNMAP_DMA iova=0x0 size=0x200000",
                             });
    CHECK(host->dma.empty());
    CHECK(!host->unbound_while_open);
    CHECK(host->sysfs_log.size() == 3);
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
}

TEST_CASE("a group the kernel calls not viable and a missing type 1 IOMMU are one-line errors", "[vfio]") {
    auto host = standard();
    host->group_viable = false;
    auto device = open_passthrough(host, by_pf(0));
    REQUIRE(!device.ok());
    CHECK_THAT(device.error().message, Catch::StartsWith("IOMMU group 12 is not viable"));
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");

    auto old_kernel = standard();
    old_kernel->type1v2 = false;
    device = open_passthrough(old_kernel, by_pf(0));
    REQUIRE(!device.ok());
    CHECK(device.error().message == "the kernel's VFIO has no type 1 IOMMU (v2): modprobe vfio_iommu_type1");
    CHECK(old_kernel->driver_of(test::kVfAddress) == "ixgbevf");
}

TEST_CASE("the sparse mmap capability of a region is read with a second, larger GET_REGION_INFO", "[vfio]") {
    auto host = standard();
    host->sparse_bar0 = true;
    auto device = open_passthrough(host, by_pf(0));
    REQUIRE(device.ok());
    CHECK(host->ioctl_log[7] == "device GET_REGION_INFO 0");
    CHECK(host->ioctl_log[8] == "device GET_REGION_INFO 0 (with room)");
    const RegionInfo* bar0 = (*device)->region(0);
    REQUIRE(bar0 != nullptr);
    REQUIRE(bar0->sparse_areas);
    CHECK(*bar0->sparse_areas == std::vector<std::pair<uint64_t, uint64_t>>{{0, 0x3000}, {0x6000, 0x2000}});
}

TEST_CASE("region accesses are bounds-checked and land at the region's offset", "[vfio]") {
    auto host = standard();
    auto device = open_passthrough(host, by_pf(0));
    REQUIRE(device.ok());
    std::array<uint8_t, 4> bytes{1, 2, 3, 4};
    REQUIRE((*device)->write_region(2, 0xffc, bytes).ok());
    CHECK(host->region_log.back() == "write 2 0xffc 4");
    CHECK(!(*device)->write_region(2, 0xffd, bytes).ok());
    CHECK(!(*device)->read_region(1, 0, bytes).ok());
    CHECK(!(*device)->map_region(3, 0, 0x20).ok());  // not mmap'able
}
