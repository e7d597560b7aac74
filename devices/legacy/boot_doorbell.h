// The boot doorbell: an MMIO page where the guest writes a magic byte once
// it has booted (as Firecracker's boot timer does). skiff logs the time since
// its own start and hands it to whoever waits for it (tests, benchmarks).
#pragma once

#include "vmm/bus.h"

#include <atomic>
#include <chrono>
#include <functional>
#include <string>

namespace skiff {

class BootDoorbell final : public BusDevice {
public:
    using Clock = std::chrono::steady_clock;
    using Callback = std::function<void(std::chrono::microseconds since_start)>;

    // `start_event` names the moment `start` stands for in the log line.
    BootDoorbell(Clock::time_point start, Callback on_ring, std::string start_event = "skiff started")
        : process_start_(start), on_ring_(std::move(on_ring)), start_event_(std::move(start_event)) {}

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    [[nodiscard]] bool rung() const { return rung_.load(); }

private:
    Clock::time_point process_start_;
    Callback on_ring_;
    std::string start_event_;
    std::atomic<bool> rung_{false};
};

}  // namespace skiff
