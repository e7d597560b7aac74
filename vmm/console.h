// The host end of the guest's serial console: where guest output goes
// (stdout, a file, memory, nowhere) and, for stdio, the terminal mode while the VM
// runs (no line buffering or echo, so the guest's console is interactive;
// Ctrl-C still stops skiff).
#pragma once

#include "vmm/console_capture.h"
#include "vmm/result.h"
#include "vmm/unique_fd.h"
#include "vmm/vm_config.h"

#include <termios.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <span>

namespace skiff {

class ConsoleOutput final {
public:
    // A file is opened without truncating it (a start-up that fails later
    // leaves it as it was) and without blocking: a FIFO with no reader is
    // an error, not a hang.
    static Result<ConsoleOutput> open(const SerialConfig& config);

    // The VM starts: empties a regular console file.
    void begin();

    // Writes all bytes (retrying short writes); errors are dropped after one
    // warning, the guest must not stall on a full disk.
    void write(std::span<const uint8_t> bytes);
    // Also hands every byte to `tap` (console capture for harnesses).
    void set_tap(std::function<void(std::span<const uint8_t>)> tap) { tap_ = std::move(tap); }
    // The in-memory copy (SerialOutput::Capture), else null.
    [[nodiscard]] const std::shared_ptr<ConsoleCapture>& capture() const { return capture_; }

private:
    ConsoleOutput(int fd, UniqueFd owned, std::shared_ptr<ConsoleCapture> capture = nullptr)
        : fd_(fd), owned_(std::move(owned)), capture_(std::move(capture)) {}
    int fd_ = -1;  // -1: discard
    UniqueFd owned_;
    std::shared_ptr<ConsoleCapture> capture_;
    bool warned_ = false;
    std::function<void(std::span<const uint8_t>)> tap_;
};

// Puts a terminal into character mode and restores it on destruction.
class TerminalMode final {
public:
    explicit TerminalMode(int fd);
    ~TerminalMode();
    TerminalMode(const TerminalMode&) = delete;
    TerminalMode& operator=(const TerminalMode&) = delete;

private:
    int fd_;
    std::optional<termios> saved_;
};

}  // namespace skiff
