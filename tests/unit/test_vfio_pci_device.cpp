#include "devices/vfio/vfio_pci_device.h"
#include "fake_vfio_host.h"
#include "test_pci_support.h"

#include <catch2/catch.hpp>

#include <cstring>

using namespace skiff;
using namespace skiff::vfio;
using skiff::test::FakeVfioHost;

namespace {

// Records KVM memory slots as the VFIO device asks for them.
class FakeMemorySlots final : public MemorySlots {
public:
    struct Slot {
        uint64_t address;
        uint64_t size;
        std::byte* host;
        bool operator==(const Slot&) const = default;
    };
    Result<uint32_t> map(GuestAddress address, uint64_t size, std::byte* host) override {
        uint32_t slot = next++;
        slots[slot] = Slot{address.value(), size, host};
        return slot;
    }
    void unmap(uint32_t slot) override { slots.erase(slot); }
    // The mapped ranges, sorted by guest address.
    std::vector<std::pair<uint64_t, uint64_t>> ranges() const {
        std::vector<std::pair<uint64_t, uint64_t>> result;
        for (auto& [slot, mapped] : slots) {
            result.emplace_back(mapped.address, mapped.size);
        }
        std::sort(result.begin(), result.end());
        return result;
    }
    uint32_t next = 2;
    std::map<uint32_t, Slot> slots;
};

struct VfioPciFixture {
    VfioPciFixture() {
        host = std::make_shared<FakeVfioHost>();
        host->standard_host();
        memory = GuestMemory::create({{GuestAddress(0), 0x200000}}).value();
        auto opened = open_passthrough(host, PassthroughRequest{.address = test::kVfAddress, .pf = "", .vf = {}, .mac = {}});
        REQUIRE(opened.ok());
        routing = std::make_shared<test::FakeMsiRouting>();
        slots = std::make_shared<FakeMemorySlots>();
        auto created = VfioPciDevice::create(std::shared_ptr<VfioDevice>(std::move(*opened)), memory, routing, slots,
                                             "vfio net0");
        REQUIRE(created.ok());
        device = *created;
        slot = *machine.root->add_device(device);
        bar0 = machine.root->window().start;  // the first, largest BAR goes first
        bar2 = bar0 + 0x8000;
    }
    uint32_t config(uint16_t offset, size_t size) { return machine.config_read(slot, offset, size); }
    void set_config(uint16_t offset, size_t size, uint32_t value) { machine.config_write(slot, offset, size, value); }
    void enable_memory() { set_config(0x04, 2, 0x0006); }

    std::shared_ptr<FakeVfioHost> host;
    GuestMemory memory;
    std::shared_ptr<test::FakeMsiRouting> routing;
    std::shared_ptr<FakeMemorySlots> slots;
    std::shared_ptr<VfioPciDevice> device;
    test::PciMachine machine;
    uint8_t slot = 0;
    uint64_t bar0 = 0;
    uint64_t bar2 = 0;
};

std::vector<uint8_t> capability_ids(VfioPciFixture& fixture) {
    std::vector<uint8_t> ids;
    uint16_t offset = static_cast<uint16_t>(fixture.config(0x34, 1));
    for (int hops = 0; offset != 0 && hops < 48; ++hops) {
        ids.push_back(static_cast<uint8_t>(fixture.config(offset, 1)));
        offset = static_cast<uint16_t>(fixture.config(offset + 1, 1) & 0xfc);
    }
    return ids;
}

}  // namespace

TEST_CASE("VFIO config space: identity passed through, header virtualized, capability list intact", "[vfio][pci]") {
    VfioPciFixture fixture;
    CHECK(fixture.config(0x00, 4) == 0x10ed8086);
    CHECK(fixture.config(0x08, 4) == 0x02000001);
    CHECK(fixture.config(0x2c, 4) == 0x00018086);
    CHECK(fixture.config(0x0e, 1) == 0x00);  // single function in the guest
    CHECK(fixture.config(0x3d, 1) == 0);     // no INTx
    CHECK(fixture.config(0x30, 4) == 0);     // ROM hidden
    fixture.set_config(0x30, 4, 0xffffffff);
    CHECK(fixture.config(0x30, 4) == 0);
    CHECK((fixture.config(0x06, 2) & 0x10) != 0);
    CHECK(capability_ids(fixture) == std::vector<uint8_t>{0x05, 0x11, 0x10});
    CHECK(fixture.config(0x52, 2) == 0x0080);  // MSI: 64-bit, one vector
    CHECK(fixture.config(0x72, 2) == 0x0002);  // MSI-X: 3 vectors, disabled
    CHECK(fixture.config(0x74, 4) == 0x00004000);
    CHECK(fixture.config(0x78, 4) == 0x00005000);
    CHECK(fixture.config(0xa2, 2) == 0x0002);  // PCI Express: the function's own bytes
    // A write the function owns reaches it.
    fixture.set_config(0xa8, 2, 0x1234);
    CHECK(fixture.host->get16(0xa8) == 0x1234);
}

TEST_CASE("VFIO BARs: sizes from the regions, 64-bit pair, I/O BAR hidden, relocation", "[vfio][pci]") {
    VfioPciFixture fixture;
    auto bars = fixture.device->bars();
    REQUIRE(bars.size() == 2);
    CHECK(bars[0].index == 0);
    CHECK(bars[0].width == pci::BarWidth::Bits64);
    CHECK(bars[0].prefetchable);
    CHECK(bars[0].size == 0x8000);
    CHECK(bars[1].index == 2);
    CHECK(bars[1].size == 0x1000);
    CHECK((fixture.config(0x10, 4) & 0xf) == 0xc);
    auto [address0, size0] = fixture.machine.size_bar(fixture.slot, 0);
    CHECK(address0 == fixture.bar0);
    CHECK(size0 == 0x8000);
    auto [address2, size2] = fixture.machine.size_bar(fixture.slot, 2);
    CHECK(address2 == fixture.bar2);
    CHECK(size2 == 0x1000);
    CHECK(fixture.config(0x1c, 4) == 0);  // the I/O BAR
    fixture.set_config(0x1c, 4, 0xffffffff);
    CHECK(fixture.config(0x1c, 4) == 0);
    // A guest moving BAR0 above 4 GiB (64-bit pair).
    fixture.set_config(0x10, 4, 0x00000000);
    fixture.set_config(0x14, 4, 0x00000001);
    CHECK(fixture.device->bars()[0].address == 0x100000000);
}

TEST_CASE("VFIO BARs: mmap'able parts are KVM slots, except the MSI-X pages, and they follow the BAR", "[vfio][pci]") {
    VfioPciFixture fixture;
    CHECK(fixture.host->mmap_log == std::vector<std::string>{"mmap 0 0x0+0x4000", "mmap 0 0x6000+0x2000",
                                                             "mmap 2 0x0+0x1000"});
    CHECK(fixture.slots->slots.empty());  // memory decoding still off
    fixture.enable_memory();
    CHECK(fixture.host->get16(0x04) == 0x0006);  // forwarded to the function
    using Ranges = std::vector<std::pair<uint64_t, uint64_t>>;
    CHECK(fixture.slots->ranges() == Ranges{{fixture.bar0, 0x4000}, {fixture.bar0 + 0x6000, 0x2000},
                                            {fixture.bar2, 0x1000}});

    // The slot shows the function's BAR: what the guest writes there, a
    // trapped read sees.
    auto parts = fixture.device->mapped_parts();
    REQUIRE(parts.size() == 3);
    std::memcpy(parts[0].host + 0x10, "\x78\x56\x34\x12", 4);
    CHECK(fixture.machine.mmio_read(fixture.bar0 + 0x10, 4) == 0x12345678);

    // Linux moves a BAR with decoding off; so does this guest.
    uint64_t moved = fixture.bar0 + 0x20000;
    fixture.set_config(0x04, 2, 0x0004);
    CHECK(fixture.slots->slots.empty());
    fixture.set_config(0x10, 4, static_cast<uint32_t>(moved));
    fixture.enable_memory();
    CHECK(fixture.slots->ranges() == Ranges{{fixture.bar2, 0x1000}, {moved, 0x4000}, {moved + 0x6000, 0x2000}});
}

TEST_CASE("VFIO BARs: sparse mmap areas are honoured as well as the MSI-X pages", "[vfio][pci]") {
    auto host = std::make_shared<FakeVfioHost>();
    host->standard_host();
    host->sparse_bar0 = true;
    auto memory = GuestMemory::create({{GuestAddress(0), 0x200000}}).value();
    auto opened = open_passthrough(host, PassthroughRequest{.address = test::kVfAddress, .pf = "", .vf = {}, .mac = {}});
    REQUIRE(opened.ok());
    auto device = VfioPciDevice::create(std::shared_ptr<VfioDevice>(std::move(*opened)), memory,
                                        std::make_shared<test::FakeMsiRouting>(), std::make_shared<FakeMemorySlots>(),
                                        "vfio net0");
    REQUIRE(device.ok());
    CHECK(host->mmap_log == std::vector<std::string>{"mmap 0 0x0+0x3000", "mmap 0 0x6000+0x2000", "mmap 2 0x0+0x1000"});
}

TEST_CASE("VFIO BARs: trapped accesses are forwarded at the region's offset", "[vfio][pci]") {
    VfioPciFixture fixture;
    fixture.enable_memory();
    fixture.host->region_log.clear();
    // The MSI-X table's page outside the table, and the PBA's page past it.
    fixture.machine.mmio_write(fixture.bar0 + 0x4100, 4, 0xdeadbeef);
    CHECK(fixture.host->region_log.back() == "write 0 0x4100 4");
    CHECK(fixture.machine.mmio_read(fixture.bar0 + 0x4100, 4) == 0xdeadbeef);
    CHECK(fixture.host->region_log.back() == "read 0 0x4100 4");
    fixture.machine.mmio_write(fixture.bar2 + 0x8, 2, 0xbeef);
    CHECK(fixture.host->region_log.back() == "write 2 0x8 2");
    // The table itself never reaches the function.
    size_t forwarded = fixture.host->region_log.size();
    fixture.machine.mmio_write(fixture.bar0 + 0x4000, 4, 0xfee00000);
    CHECK(fixture.machine.mmio_read(fixture.bar0 + 0x4000, 4) == 0xfee00000);
    CHECK(fixture.machine.mmio_read(fixture.bar0 + 0x5000, 8) == 0);  // PBA
    CHECK(fixture.host->region_log.size() == forwarded);
    // An 8-byte access straddling the end of the table: split.
    fixture.machine.mmio_write(fixture.bar0 + 0x402c, 8, 0x1111111100000000ull);
    CHECK(fixture.host->region_log.back() == "write 0 0x4030 4");
}

TEST_CASE("VFIO MSI-X: enabling wires the vectors through SET_IRQS, routes follow masking", "[vfio][pci]") {
    VfioPciFixture fixture;
    const pci::Msix* msix = fixture.device->msix();
    REQUIRE(msix != nullptr);
    REQUIRE(msix->vector_count() == 3);
    fixture.enable_memory();
    fixture.host->ioctl_log.clear();
    // Enabled with the function masked, as Linux does: VFIO gets every
    // vector's own eventfd, once, and keeps it from here to disable.
    fixture.set_config(0x72, 2, 0xc002);
    CHECK(fixture.host->ioctl_log == std::vector<std::string>{"device SET_IRQS index=2 start=0 count=3 trigger eventfd"});
    REQUIRE(fixture.host->irq_fds[2].size() == 3);
    for (uint16_t vector = 0; vector < 3; ++vector) {
        CHECK(fixture.host->irq_fds[2][vector] == msix->vector_fd(vector));
        // Masked: KVM's irqfd on the vector's eventfd is registered only
        // while the vector can fire (pci::Msix holds direct writes meanwhile).
        CHECK_FALSE(fixture.routing->irqfds.contains(msix->vector_gsi(vector)));
    }
    CHECK(fixture.config(0x72, 2) == 0xc002);

    // Vector 1: address, data, unmasked; then the function unmasked.
    uint64_t entry = fixture.bar0 + 0x4000 + 16;
    fixture.machine.mmio_write(entry, 4, 0xfee01000);
    fixture.machine.mmio_write(entry + 4, 4, 0);
    fixture.machine.mmio_write(entry + 8, 4, 0x4042);
    fixture.machine.mmio_write(entry + 12, 4, 0);
    CHECK(fixture.routing->committed.empty());
    fixture.host->ioctl_log.clear();
    fixture.set_config(0x72, 2, 0x8002);
    using Route = test::FakeMsiRouting::Route;
    CHECK(fixture.routing->committed == std::map<uint32_t, Route>{{msix->vector_gsi(1), Route{0xfee01000, 0x4042}}});
    CHECK(fixture.routing->irqfds.at(msix->vector_gsi(1)) == msix->vector_fd(1));
    CHECK_FALSE(fixture.routing->irqfds.contains(msix->vector_gsi(0)));
    CHECK(fixture.host->ioctl_log.empty());  // masking is skiff's business, not VFIO's

    // Masking the vector takes its irqfd and route away; what the function
    // raises meanwhile shows in the PBA and is delivered at unmask.
    fixture.machine.mmio_write(entry + 12, 4, 1);
    CHECK(fixture.routing->committed.empty());
    CHECK_FALSE(fixture.routing->irqfds.contains(msix->vector_gsi(1)));
    CHECK(fixture.machine.mmio_read(fixture.bar0 + 0x5000, 8) == 0);
    uint64_t one = 1;
    REQUIRE(::write(fixture.host->irq_fds[2][1], &one, sizeof(one)) == sizeof(one));  // the function fires
    CHECK(fixture.machine.mmio_read(fixture.bar0 + 0x5000, 8) == 0b010);  // pending bit 1
    fixture.machine.mmio_write(entry + 12, 4, 0);
    CHECK(fixture.routing->committed.size() == 1);
    // Route back, then the irqfd: KVM injects what the eventfd counted.
    CHECK(fixture.routing->irqfds.at(msix->vector_gsi(1)) == msix->vector_fd(1));
    CHECK(test::eventfd_count(msix->vector_fd(1)) == 1);
    CHECK(fixture.host->ioctl_log.empty());

    fixture.host->ioctl_log.clear();
    fixture.set_config(0x72, 2, 0x0002);
    CHECK(fixture.host->ioctl_log == std::vector<std::string>{"device SET_IRQS index=2 start=0 count=0 trigger none"});
    CHECK(fixture.routing->committed.empty());
}

TEST_CASE("VFIO MSI: enabling gives the vector a GSI, a route, an irqfd and VFIO's eventfd", "[vfio][pci]") {
    VfioPciFixture fixture;
    fixture.host->ioctl_log.clear();
    fixture.set_config(0x54, 4, 0xfee02000);
    fixture.set_config(0x58, 4, 0);
    fixture.set_config(0x5c, 2, 0x4061);
    CHECK(fixture.host->ioctl_log.empty());
    fixture.set_config(0x52, 2, 0x0001);
    CHECK(fixture.config(0x52, 2) == 0x0081);
    CHECK(fixture.host->ioctl_log == std::vector<std::string>{"device SET_IRQS index=1 start=0 count=1 trigger eventfd"});
    REQUIRE(fixture.device->msi_gsi());
    uint32_t gsi = *fixture.device->msi_gsi();
    CHECK(fixture.host->irq_fds[1] == std::vector<int>{fixture.device->msi_fd()});
    CHECK(fixture.routing->irqfds.at(gsi) == fixture.device->msi_fd());
    using Route = test::FakeMsiRouting::Route;
    CHECK(fixture.routing->committed == std::map<uint32_t, Route>{{gsi, Route{0xfee02000, 0x4061}}});
    // Reprogrammed while enabled: the route follows.
    fixture.set_config(0x5c, 2, 0x4062);
    CHECK(fixture.routing->committed.at(gsi) == Route{0xfee02000, 0x4062});

    fixture.host->ioctl_log.clear();
    fixture.set_config(0x52, 2, 0x0000);
    CHECK(fixture.host->ioctl_log == std::vector<std::string>{"device SET_IRQS index=1 start=0 count=0 trigger none"});
    CHECK(fixture.routing->committed.empty());
    CHECK(!fixture.routing->irqfds.contains(gsi));
    CHECK(!fixture.routing->allocated.contains(gsi));
}

TEST_CASE("destroying the VFIO PCI device unmaps its slots, then the function goes back to its driver",
          "[vfio][pci]") {
    auto fixture = std::make_unique<VfioPciFixture>();
    fixture->enable_memory();
    fixture->set_config(0x72, 2, 0x8002);
    CHECK(fixture->slots->slots.size() == 3);
    auto host = fixture->host;
    auto slots = fixture->slots;
    host->ioctl_log.clear();
    fixture.reset();
    CHECK(slots->slots.empty());
    CHECK(host->ioctl_log.front() == "device SET_IRQS index=2 start=0 count=0 trigger none");
    CHECK(host->ioctl_log.back() == "container UNMAP_DMA iova=0x0 size=0x200000");
    CHECK(host->dma.empty());
    CHECK(!host->unbound_while_open);
    CHECK(host->driver_of(test::kVfAddress) == "ixgbevf");
}

TEST_CASE("a guest writing all ones everywhere cannot break skiff's parts of the config space", "[vfio][pci]") {
    VfioPciFixture fixture;
    for (uint16_t offset = 0; offset < 256; offset += 4) {
        fixture.set_config(offset, 4, 0xffffffff);
    }
    CHECK(fixture.config(0x0e, 1) == 0x00);
    CHECK(fixture.config(0x30, 4) == 0);
    CHECK(fixture.config(0x3d, 1) == 0);
    CHECK(fixture.config(0x10, 4) == 0xffff800c);  // BAR0's sizing mask and type
    CHECK(fixture.config(0x14, 4) == 0xffffffff);
    CHECK(fixture.config(0x18, 4) == 0xfffff000);
    CHECK(fixture.config(0x1c, 4) == 0);
    CHECK(capability_ids(fixture) == std::vector<uint8_t>{0x05, 0x11, 0x10});
    CHECK(fixture.config(0x72, 2) == 0xc002);  // only enable and function mask took
    CHECK(fixture.config(0x52, 2) == 0x0081);  // only enable took
    CHECK(fixture.config(0x04, 2) == 0x0406);  // memory, bus master, INTx disable
    // BARs outside the window are not decoded: no slots, no accesses.
    CHECK(fixture.slots->slots.empty());
    for (uint64_t offset = 0; offset < 0x9000; offset += 0x100) {
        (void)fixture.machine.mmio_read(fixture.bar0 + offset, 4);
        fixture.machine.mmio_write(fixture.bar0 + offset, 4, 0xffffffff);
    }
}
