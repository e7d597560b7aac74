#include "devices/legacy/serial_8250.h"

namespace skiff {

namespace {

// Register offsets from the base port.
constexpr uint64_t kData = 0;           // RBR / THR, DLL when DLAB
constexpr uint64_t kInterruptEnable = 1;  // IER, DLM when DLAB
constexpr uint64_t kInterruptId = 2;    // IIR (read) / FCR (write)
constexpr uint64_t kLineControl = 3;
constexpr uint64_t kModemControl = 4;
constexpr uint64_t kLineStatus = 5;
constexpr uint64_t kModemStatus = 6;
constexpr uint64_t kScratch = 7;

constexpr uint8_t kLcrDivisorLatch = 0x80;
constexpr uint8_t kIerReceive = 0x01;
constexpr uint8_t kIerTransmitEmpty = 0x02;
constexpr uint8_t kIirNone = 0x01;
constexpr uint8_t kIirTransmitEmpty = 0x02;
constexpr uint8_t kIirReceive = 0x04;
constexpr uint8_t kIirFifoEnabled = 0xc0;
constexpr uint8_t kFcrEnable = 0x01;
constexpr uint8_t kFcrClearReceive = 0x02;
constexpr uint8_t kLsrDataReady = 0x01;
constexpr uint8_t kLsrTransmitEmpty = 0x60;  // THRE | TEMT: transmit is instant
constexpr uint8_t kMcrLoop = 0x10;
// Modem status with the line "connected": DCD | DSR | CTS.
constexpr uint8_t kMsrConnected = 0xb0;

}  // namespace

Serial8250::Serial8250(std::shared_ptr<InterruptLine> interrupt, OutputSink output)
    : interrupt_(std::move(interrupt)), output_(std::move(output)) {}

void Serial8250::read(uint64_t offset, std::span<uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        data[i] = read_register(offset + i);
    }
    update_interrupt();
}

void Serial8250::write(uint64_t offset, std::span<const uint8_t> data) {
    std::lock_guard lock(mutex_);
    for (size_t i = 0; i < data.size(); ++i) {
        write_register(offset + i, data[i]);
    }
    update_interrupt();
}

bool Serial8250::loopback() const { return (modem_control_ & kMcrLoop) != 0; }

uint8_t Serial8250::read_register(uint64_t offset) {
    bool divisor_latch = (line_control_ & kLcrDivisorLatch) != 0;
    switch (offset) {
        case kData:
            if (divisor_latch) {
                return divisor_low_;
            }
            if (input_.empty()) {
                return 0;
            }
            {
                uint8_t byte = input_.front();
                input_.pop_front();
                return byte;
            }
        case kInterruptEnable:
            return divisor_latch ? divisor_high_ : interrupt_enable_;
        case kInterruptId: {
            uint8_t fifo_bits = fifo_enabled_ ? kIirFifoEnabled : 0;
            if ((interrupt_enable_ & kIerReceive) && !input_.empty()) {
                return fifo_bits | kIirReceive;
            }
            if ((interrupt_enable_ & kIerTransmitEmpty) && transmit_empty_pending_) {
                // Reading IIR while it reports THRE acknowledges it.
                transmit_empty_pending_ = false;
                return fifo_bits | kIirTransmitEmpty;
            }
            return fifo_bits | kIirNone;
        }
        case kLineControl:
            return line_control_;
        case kModemControl:
            return modem_control_;
        case kLineStatus:
            return kLsrTransmitEmpty | (input_.empty() ? 0 : kLsrDataReady);
        case kModemStatus:
            if (loopback()) {
                // Outputs wired back to inputs: DTR->DSR, RTS->CTS, OUT1->RI, OUT2->DCD.
                uint8_t status = 0;
                status |= (modem_control_ & 0x01) ? 0x20 : 0;
                status |= (modem_control_ & 0x02) ? 0x10 : 0;
                status |= (modem_control_ & 0x04) ? 0x40 : 0;
                status |= (modem_control_ & 0x08) ? 0x80 : 0;
                return status;
            }
            return kMsrConnected;
        case kScratch:
            return scratch_;
        default:
            return 0xff;
    }
}

void Serial8250::write_register(uint64_t offset, uint8_t value) {
    bool divisor_latch = (line_control_ & kLcrDivisorLatch) != 0;
    switch (offset) {
        case kData:
            if (divisor_latch) {
                divisor_low_ = value;
                return;
            }
            if (loopback()) {
                if (input_.size() < kInputCapacity) {
                    input_.push_back(value);
                }
            } else if (output_) {
                output_(std::span<const uint8_t>(&value, 1));
            }
            transmit_empty_pending_ = true;
            return;
        case kInterruptEnable:
            if (divisor_latch) {
                divisor_high_ = value;
                return;
            }
            // Enabling THRE while the holder is empty raises it at once.
            if ((value & kIerTransmitEmpty) && !(interrupt_enable_ & kIerTransmitEmpty)) {
                transmit_empty_pending_ = true;
            }
            interrupt_enable_ = value & 0x0f;
            return;
        case kInterruptId:
            fifo_enabled_ = (value & kFcrEnable) != 0;
            if (value & kFcrClearReceive) {
                input_.clear();
            }
            return;
        case kLineControl:
            line_control_ = value;
            return;
        case kModemControl:
            modem_control_ = value & 0x1f;
            return;
        case kScratch:
            scratch_ = value;
            return;
        default:
            return;  // LSR and MSR are read-only
    }
}

void Serial8250::update_interrupt() {
    bool receive = (interrupt_enable_ & kIerReceive) && !input_.empty();
    bool transmit = (interrupt_enable_ & kIerTransmitEmpty) && transmit_empty_pending_;
    bool asserted = receive || transmit;
    if (asserted != line_asserted_ && interrupt_) {
        interrupt_->set_level(asserted);
    }
    line_asserted_ = asserted;
}

size_t Serial8250::enqueue_input(std::span<const uint8_t> bytes) {
    std::lock_guard lock(mutex_);
    size_t taken = 0;
    while (taken < bytes.size() && input_.size() < kInputCapacity) {
        input_.push_back(bytes[taken++]);
    }
    update_interrupt();
    return taken;
}

size_t Serial8250::input_space() const {
    std::lock_guard lock(mutex_);
    return kInputCapacity - input_.size();
}

}  // namespace skiff
