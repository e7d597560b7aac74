// fuzz_net_queue_pair: the virtio-net data path (net/queue_pair.h) between
// a driver's receive and transmit rings laid out in guest memory and a
// packet backend (a SOCK_SEQPACKET socket pair, tests/unit/fake_net_backend.h)
// whose host end injects frames from the input. The guest writes anything
// anywhere in its memory, rings included, between the data path's runs.
// Whatever the bytes, skiff must not touch host memory outside guest memory
// (guard pages on both sides, ASan and UBSan for the rest), deliver more
// frames than were injected, send the host more frames than it transmitted,
// or send one without its 12-byte virtio_net_hdr. Guest-controlled
// virtio_net_hdr fields: on transmit the header is whatever the guest put
// in front of its frame (the seeds' headers are zeros, the fuzzer changes
// them through memory writes); on receive the injected frames carry any
// header (frames shorter than one are dropped) and skiff writes num_buffers
// into it.
//
// Input:
//   byte 0     receive queue size: 1 << (byte % 9), so 1 to 256
//   byte 1     transmit queue size, the same way
//   byte 2     bit 0 EVENT_IDX, bit 1 INDIRECT_DESC, bit 2 MRG_RXBUF,
//              bit 3 the transmit used ring ends at the top of guest memory,
//              bits 4-7 batch size 1 << (bits % 9)
//   then operations, each one byte of kind (bits 0-2) and its arguments:
//     0 guest memory write: 2-byte offset, 1-byte length, that many bytes
//     1 inject a frame: 2-byte length (modulo 9000), that many bytes from
//       the input (zeros once it runs out)
//     2 process_rx   3 process_tx   4 both
//     5 the host takes one frame the guest sent
//     6 publish: 1-byte queue (bit 0: transmit) and 2-byte available index
//     7 one available ring entry: 1-byte queue, 1-byte slot, 2-byte head
// Rings: from kRingArea up, receive then transmit (descriptor table,
// available ring, used ring each), their buffers below.
#include "devices/virtio/queue.h"
#include "devices/virtio/virtio.h"
#include "net/queue_pair.h"
#include "tests/fuzz/fuzz_memory.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/unit/fake_net_backend.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

using namespace skiff;
using namespace skiff::virtio;

namespace {

constexpr GuestAddress kMemoryStart(0x10000);
constexpr uint64_t kMemorySize = 0x10000;
constexpr uint64_t kRingArea = 0x8000;
constexpr uint16_t kMaxQueueSize = 256;

const GuestMemory& memory() {
    static const GuestMemory instance = fuzz::make_guarded_memory(kMemoryStart, kMemorySize);
    return instance;
}

uint64_t align_up(uint64_t value, uint64_t alignment) { return (value + alignment - 1) & ~(alignment - 1); }

class CountingInterrupt final : public VirtioInterrupt {
public:
    void signal_queue(uint16_t queue_index) override {
        FUZZ_CHECK(queue_index <= 1);
        ++signals;
    }
    void signal_config() override { ++signals; }
    uint64_t signals = 0;
};

struct Rings {
    QueueConfig rx;
    QueueConfig tx;
};

Rings lay_out(uint16_t rx_size, uint16_t tx_size, bool tx_used_last) {
    uint64_t next = kMemoryStart.value() + kRingArea;
    auto place = [&](uint16_t size) {
        QueueConfig config{.max_size = kMaxQueueSize, .size = size, .ready = true};
        config.descriptor_table = GuestAddress(align_up(next, 16));
        next = config.descriptor_table.value() + ring::descriptor_table_bytes(size);
        config.available_ring = GuestAddress(align_up(next, 2));
        next = config.available_ring.value() + ring::available_ring_bytes(size);
        config.used_ring = GuestAddress(align_up(next, 4));
        next = config.used_ring.value() + ring::used_ring_bytes(size);
        return config;
    };
    Rings rings{place(rx_size), place(tx_size)};
    if (tx_used_last) {
        rings.tx.used_ring =
            GuestAddress((kMemoryStart.value() + kMemorySize - ring::used_ring_bytes(tx_size)) & ~uint64_t{3});
    }
    return rings;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz::init_logging();
    (void)memory();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size < 3) {
        return 0;
    }
    fuzz::Input input(data, size);
    const auto rx_size = static_cast<uint16_t>(1u << (input.byte() % 9));
    const auto tx_size = static_cast<uint16_t>(1u << (input.byte() % 9));
    const uint8_t flags = input.byte();
    const bool event_index = (flags & 1) != 0;
    const bool indirect = (flags & 2) != 0;
    const Rings rings = lay_out(rx_size, tx_size, (flags & 8) != 0);

    FUZZ_CHECK(memory().fill(kMemoryStart, kMemorySize, std::byte{0}).ok());
    auto rx = Queue::create(rings.rx, memory(), event_index, indirect);
    auto tx = Queue::create(rings.tx, memory(), event_index, indirect);
    FUZZ_CHECK(rx.ok() && tx.ok());

    testing::FakeNetBackend backend;
    CountingInterrupt interrupt;
    net::NetCounters counters;
    net::QueuePairOptions options;
    options.mergeable_rx_buffers = (flags & 4) != 0;
    options.batch = 1u << ((flags >> 4) % 9);
    bool reset_requested = false;
    net::QueuePair pair(memory(), std::move(rx).value(), std::move(tx).value(), backend, interrupt, counters, options,
                        [&](std::string_view reason) {
                            spdlog::debug("fuzz: needs reset: {}", reason);
                            reset_requested = true;
                        });

    uint64_t injected = 0;
    uint64_t taken = 0;
    std::vector<uint8_t> frame;
    std::vector<uint8_t> received(70000);
    // The host takes a frame the guest sent: the guest's virtio_net_hdr
    // (any bytes it liked) and the Ethernet frame behind it, nothing shorter.
    auto take_sent = [&] {
        const ssize_t count = ::recv(backend.peer(), received.data(), received.size(), MSG_DONTWAIT);
        if (count < 0) {
            return false;
        }
        FUZZ_CHECK(static_cast<size_t>(count) >= net::kVnetHeaderSize);
        ++taken;
        return true;
    };
    while (!input.empty()) {
        switch (input.byte() & 7) {
            case 0: {
                const uint16_t offset = input.word();
                std::array<uint8_t, 255> chunk{};
                const size_t length = std::min<size_t>(input.byte(), kMemorySize - offset);
                input.bytes(std::span(chunk).first(length));
                FUZZ_CHECK(memory().write(GuestAddress(kMemoryStart.value() + offset), std::as_bytes(std::span(chunk).first(length))).ok());
                break;
            }
            case 1: {
                frame.resize(input.word() % 9000);
                input.bytes(frame);
                if (::send(backend.peer(), frame.data(), frame.size(), MSG_DONTWAIT) ==
                    static_cast<ssize_t>(frame.size())) {
                    ++injected;
                }
                break;
            }
            case 2: pair.process_rx(); break;
            case 3: pair.process_tx(); break;
            case 4:
                pair.process_rx();
                pair.process_tx();
                break;
            case 5: take_sent(); break;
            case 6: {
                const QueueConfig& config = (input.byte() & 1) != 0 ? rings.tx : rings.rx;
                FUZZ_CHECK(memory().write_object(GuestAddress(config.available_ring.value() + 2), input.word()).ok());
                break;
            }
            case 7: {
                const QueueConfig& config = (input.byte() & 1) != 0 ? rings.tx : rings.rx;
                const uint16_t slot = input.byte() % config.size;
                FUZZ_CHECK(memory().write_object(GuestAddress(config.available_ring.value() + 4 + 2u * slot), input.word()).ok());
                break;
            }
        }
        FUZZ_CHECK(counters.rx_packets.load() + counters.rx_dropped.load() <= injected);
    }
    // Whatever the host has not taken yet is still in the socket.
    while (take_sent()) {
    }
    spdlog::debug("fuzz: injected {}, received {} (dropped {}), sent {} (dropped {}), {} interrupts", injected,
                  counters.rx_packets.load(), counters.rx_dropped.load(), counters.tx_packets.load(),
                  counters.tx_dropped.load(), interrupt.signals);
    FUZZ_CHECK(taken == counters.tx_packets.load());
    FUZZ_CHECK(!pair.failed() || reset_requested);
    return 0;
}
