// The vhost layer against a recording ioctl seam: request numbers,
// argument layouts, the memory table and ring translation, open errors.
#include "devices/virtio/vhost/vhost_abi.h"
#include "devices/virtio/vhost/vhost_kernel.h"
#include "devices/virtio/vhost/vhost_vrings.h"
#include "vhost_recorder.h"

#include <catch2/catch.hpp>

#include <sys/eventfd.h>

using namespace skiff;
using namespace skiff::vhost;
using skiff::testing::VhostRecorder;

namespace {

GuestMemory two_regions() {
    auto memory = GuestMemory::create({{GuestAddress(0), 0x100000}, {GuestAddress(uint64_t{1} << 32), 0x100000}});
    REQUIRE(memory.ok());
    return std::move(memory).value();
}

uint64_t host(const GuestMemory& memory, uint64_t address, uint64_t length) {
    auto bytes = memory.slice(GuestAddress(address), length);
    REQUIRE(bytes.ok());
    return reinterpret_cast<uint64_t>(bytes->data());
}

virtio::QueueConfig ring_at(uint64_t base, uint16_t size) {
    return virtio::QueueConfig{.max_size = 256,
                               .size = size,
                               .ready = true,
                               .descriptor_table = GuestAddress(base),
                               .available_ring = GuestAddress(base + 0x1000),
                               .used_ring = GuestAddress(base + 0x2000)};
}

}  // namespace

TEST_CASE("vhost ABI: the request numbers and layouts are the kernel's", "[vhost]") {
    // _IOW(0xAF, 3, 8-byte header): what a C compiler makes of VHOST_SET_MEM_TABLE.
    CHECK(abi::kSetMemTable == ((1ul << 30) | (8ul << 16) | (0xaful << 8) | 3));
    CHECK(abi::kSetOwner == 0xaf01);
    CHECK(abi::kNetSetBackend == 0x4008af30);
    CHECK(abi::kGetVringBase == 0xc008af12);
    CHECK(abi::kSetVringAddr == 0x4028af11);
}

TEST_CASE("vhost kernel: every message is its ioctl with the argument laid out as C does", "[vhost]") {
    VhostRecorder recorder;
    recorder.features = 0x1234'5678'9abc;
    recorder.vring_base = 77;
    auto backend = recorder.backend();
    const int fd = backend->fd();
    REQUIRE(fd >= 0);

    REQUIRE(backend->set_owner().ok());
    CHECK(backend->get_features().value() == 0x1234'5678'9abc);
    REQUIRE(backend->set_features(0x1'0000'0000).ok());
    std::vector<MemoryRegion> regions = {{0, 0x1000, 0x7f0000000000}, {0x100000000, 0x2000, 0x7f0000100000}};
    REQUIRE(backend->set_mem_table(regions).ok());
    REQUIRE(backend->set_vring_num(1, 256).ok());
    REQUIRE(backend->set_vring_base(1, 5).ok());
    CHECK(backend->get_vring_base(1).value() == 77);
    VringAddresses addresses{0x1000, 0x3000, 0x2000, 0, 0};
    REQUIRE(backend->set_vring_addr(1, addresses).ok());
    REQUIRE(backend->set_vring_kick(0, 11).ok());
    REQUIRE(backend->set_vring_call(1, 12).ok());
    REQUIRE(backend->net_set_backend(0, 13).ok());
    REQUIRE(backend->net_set_backend(1, -1).ok());

    CHECK(recorder.names() == std::vector<std::string>{"SET_OWNER", "GET_FEATURES", "SET_FEATURES", "SET_MEM_TABLE",
                                                        "SET_VRING_NUM", "SET_VRING_BASE", "GET_VRING_BASE",
                                                        "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL",
                                                        "NET_SET_BACKEND", "NET_SET_BACKEND"});
    for (const auto& call : recorder.calls) {
        CHECK(call.fd == fd);
    }
    const auto& calls = recorder.calls;
    CHECK(calls[2].value == 0x1'0000'0000);
    CHECK(calls[3].regions == regions);
    CHECK(calls[3].value == 0);  // flags_padding
    CHECK((calls[4].index == 1 && calls[4].value == 256));
    CHECK((calls[5].index == 1 && calls[5].value == 5));
    CHECK(calls[6].index == 1);
    CHECK(calls[7].index == 1);
    CHECK(calls[7].addresses == addresses);
    CHECK((calls[8].index == 0 && calls[8].value == 11));
    CHECK((calls[9].index == 1 && calls[9].value == 12));
    CHECK((calls[10].index == 0 && calls[10].value == 13));
    CHECK((calls[11].index == 1 && calls[11].value == -1));

    recorder.fail[abi::kSetVringCall] = EINVAL;
    auto failed = backend->set_vring_call(0, 99);
    REQUIRE_FALSE(failed.ok());
    CHECK(failed.error().message == "vhost-net VHOST_SET_VRING_CALL (queue 0, fd 99): Invalid argument");
}

TEST_CASE("vhost kernel: open_vhost_net makes the process the owner, errors say cause and fix", "[vhost]") {
    SECTION("SET_OWNER right after open") {
        VhostRecorder recorder;
        auto opened = open_vhost_net("/dev/null", recorder.ioctl());
        REQUIRE(opened.ok());
        CHECK(recorder.names() == std::vector<std::string>{"SET_OWNER"});
        CHECK(recorder.calls[0].fd == (*opened)->fd());
    }
    SECTION("a missing device") {
        auto opened = open_vhost_net("/nonexistent/vhost-net");
        REQUIRE_FALSE(opened.ok());
        CHECK(opened.error().message == "/nonexistent/vhost-net not found: modprobe vhost_net, or use mode=tap");
    }
    SECTION("a device that cannot be opened read-write") {
        // A directory: EISDIR, the generic one-line message.
        auto opened = open_vhost_net("/");
        REQUIRE_FALSE(opened.ok());
        CHECK(opened.error().message.find("use mode=tap") != std::string::npos);
        CHECK(opened.error().message.find('\n') == std::string::npos);
    }
    SECTION("SET_OWNER refused (another process owns it)") {
        VhostRecorder recorder;
        recorder.fail[abi::kSetOwner] = EBUSY;
        auto opened = open_vhost_net("/dev/null", recorder.ioctl());
        REQUIRE_FALSE(opened.ok());
        CHECK(opened.error().message ==
              "/dev/null: vhost-net VHOST_SET_OWNER: Device or resource busy: another process may own it; or use "
              "mode=tap");
    }
}

TEST_CASE("vhost vrings: features, every memory region, then each ring with host addresses", "[vhost]") {
    GuestMemory memory = two_regions();
    VhostRecorder recorder;
    auto backend = recorder.backend();
    const uint64_t high = uint64_t{1} << 32;
    std::vector<VringSetup> queues = {
        {.index = 0, .config = ring_at(0x10000, 256), .next_available = 3, .kick_fd = 21, .call_fd = 31},
        {.index = 1, .config = ring_at(high + 0x20000, 64), .next_available = 0, .kick_fd = 22, .call_fd = 32},
    };
    REQUIRE(start_vrings(*backend, memory, /*acked=*/0x1'3000'0021, /*backend=*/0x1'3000'8000, queues).ok());

    CHECK(recorder.names() ==
          std::vector<std::string>{"SET_FEATURES", "SET_MEM_TABLE", "SET_VRING_NUM", "SET_VRING_BASE",
                                   "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL", "SET_VRING_NUM",
                                   "SET_VRING_BASE", "SET_VRING_ADDR", "SET_VRING_KICK", "SET_VRING_CALL"});
    CHECK(recorder.calls[0].value == 0x1'3000'0000);  // only what the back end knows
    const auto& table = recorder.calls[1].regions;
    REQUIRE(table.size() == memory.regions().size());
    for (size_t i = 0; i < table.size(); ++i) {
        CHECK(table[i].guest_phys_addr == memory.regions()[i].start.value());
        CHECK(table[i].memory_size == memory.regions()[i].size);
        CHECK(table[i].userspace_addr == reinterpret_cast<uint64_t>(memory.regions()[i].host));
    }
    for (size_t q = 0; q < 2; ++q) {
        INFO("queue " << q);
        const VringSetup& setup = queues[q];
        const auto* calls = &recorder.calls[2 + 5 * q];
        CHECK((calls[0].index == q && calls[0].value == setup.config.size));
        CHECK((calls[1].index == q && calls[1].value == setup.next_available));
        CHECK(calls[2].index == q);
        uint64_t base = setup.config.descriptor_table.value();
        CHECK(calls[2].addresses.desc_user_addr == host(memory, base, 16 * setup.config.size));
        CHECK(calls[2].addresses.avail_user_addr == host(memory, base + 0x1000, 6 + 2 * setup.config.size));
        CHECK(calls[2].addresses.used_user_addr == host(memory, base + 0x2000, 6 + 8 * setup.config.size));
        CHECK(calls[2].addresses.flags == 0);
        CHECK((calls[3].index == q && calls[3].value == setup.kick_fd));
        CHECK((calls[4].index == q && calls[4].value == setup.call_fd));
    }

    recorder.calls.clear();
    recorder.vring_base = 9;
    std::vector<uint32_t> indices = {0, 1};
    CHECK(stop_vrings(*backend, indices).value() == std::vector<uint32_t>{9, 9});
    CHECK(recorder.names() == std::vector<std::string>{"GET_VRING_BASE", "GET_VRING_BASE"});
}

TEST_CASE("vhost vrings: a ring outside guest memory is refused before any message", "[vhost]") {
    GuestMemory memory = two_regions();
    VhostRecorder recorder;
    auto backend = recorder.backend();
    SECTION("used ring's last bytes (avail_event) past the end of a region") {
        // 256 entries: the used ring is 6 + 8 * 256 = 2054 bytes; start it
        // 2052 bytes before the end of the low region.
        virtio::QueueConfig config = ring_at(0x10000, 256);
        config.used_ring = GuestAddress(0x100000 - 2052);
        std::vector<VringSetup> queues = {{.index = 0, .config = ring_at(0x10000, 256), .next_available = 0, .kick_fd = 1, .call_fd = 2},
                                          {.index = 1, .config = config, .next_available = 0, .kick_fd = 3, .call_fd = 4}};
        auto started = start_vrings(*backend, memory, 0, 0, queues);
        REQUIRE_FALSE(started.ok());
        CHECK(started.error().message ==
              "queue 1: used ring at 0xff7fc (2054 bytes) is not inside guest memory");
    }
    SECTION("descriptor table in the hole between regions") {
        std::vector<VringSetup> queues = {{.index = 0, .config = ring_at(0x200000, 16), .next_available = 0, .kick_fd = 1, .call_fd = 2}};
        CHECK_FALSE(start_vrings(*backend, memory, 0, 0, queues).ok());
    }
    SECTION("an address that wraps around") {
        virtio::QueueConfig config = ring_at(0x10000, 16);
        config.available_ring = GuestAddress(~uint64_t{0} - 8);
        std::vector<VringSetup> queues = {{.index = 0, .config = config, .next_available = 0, .kick_fd = 1, .call_fd = 2}};
        CHECK_FALSE(start_vrings(*backend, memory, 0, 0, queues).ok());
    }
    CHECK(recorder.calls.empty());
}
