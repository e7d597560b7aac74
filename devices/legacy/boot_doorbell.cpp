#include "devices/legacy/boot_doorbell.h"

#include "boot/layout.h"

#include <spdlog/spdlog.h>

namespace skiff {

void BootDoorbell::read(uint64_t /*offset*/, std::span<uint8_t> data) {
    for (auto& byte : data) {
        byte = 0;
    }
}

void BootDoorbell::write(uint64_t offset, std::span<const uint8_t> data) {
    if (offset != 0 || data.empty() || data[0] != layout::kBootDoorbellMagic) {
        return;
    }
    auto since_start = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - process_start_);
    // Only the first ring counts; a guest ringing in a loop logs nothing more.
    if (rung_.exchange(true)) {
        return;
    }
    spdlog::info("guest boot doorbell: {}.{:03} ms after {}", since_start.count() / 1000, since_start.count() % 1000,
                 start_event_);
    if (on_ring_) {
        on_ring_(since_start);
    }
}

}  // namespace skiff
