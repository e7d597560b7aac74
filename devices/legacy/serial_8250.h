// A 16550A-compatible UART (the 8250 family that every x86 kernel drives on
// COM1). Transmit is immediate: each byte the guest writes goes to the output
// sink. Receive comes from the host through enqueue_input(), bounded: input
// the FIFO cannot take is refused, not buffered without limit.
#pragma once

#include "devices/interrupt_line.h"
#include "vmm/bus.h"

#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <span>

namespace skiff {

class Serial8250 final : public BusDevice {
public:
    using OutputSink = std::function<void(std::span<const uint8_t>)>;
    static constexpr size_t kInputCapacity = 1024;

    Serial8250(std::shared_ptr<InterruptLine> interrupt, OutputSink output);

    void read(uint64_t offset, std::span<uint8_t> data) override;
    void write(uint64_t offset, std::span<const uint8_t> data) override;

    // Queues host input for the guest; returns how many bytes were taken.
    size_t enqueue_input(std::span<const uint8_t> bytes);
    // Room left in the receive FIFO.
    [[nodiscard]] size_t input_space() const;

private:
    uint8_t read_register(uint64_t offset);
    void write_register(uint64_t offset, uint8_t value);
    void update_interrupt();  // called with mutex_ held
    [[nodiscard]] bool loopback() const;

    std::shared_ptr<InterruptLine> interrupt_;
    OutputSink output_;
    mutable std::mutex mutex_;
    std::deque<uint8_t> input_;
    uint8_t interrupt_enable_ = 0;
    uint8_t line_control_ = 0x03;  // 8N1
    uint8_t modem_control_ = 0x08;  // OUT2
    uint8_t scratch_ = 0;
    uint8_t divisor_low_ = 0x0c;  // 9600 baud
    uint8_t divisor_high_ = 0;
    bool fifo_enabled_ = false;
    bool transmit_empty_pending_ = false;
    bool line_asserted_ = false;
};

}  // namespace skiff
