#include "vmm/console.h"

#include "vmm/parent_directory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include <spdlog/spdlog.h>

namespace skiff {

Result<ConsoleOutput> ConsoleOutput::open(const SerialConfig& config) {
    switch (config.output) {
        case SerialOutput::Stdio:
            return ConsoleOutput(STDOUT_FILENO, UniqueFd());
        case SerialOutput::None:
            return ConsoleOutput(-1, UniqueFd());
        case SerialOutput::File: {
            TRY(require_parent_directory(config.path)
                    .context_error(fmt::format("serial output file {}", config.path)));
            int fd = ::open(config.path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
            if (fd < 0) {
                return errno_error(fmt::format("opening serial output file {}", config.path));
            }
            return ConsoleOutput(fd, UniqueFd(fd));
        }
        case SerialOutput::Capture:
            return ConsoleOutput(-1, UniqueFd(),
                                 std::make_shared<ConsoleCapture>(static_cast<size_t>(config.capture_limit)));
    }
    return Error{"unknown serial output"};
}

void ConsoleOutput::write(std::span<const uint8_t> bytes) {
    if (tap_) {
        tap_(bytes);
    }
    if (capture_) {
        capture_->append(bytes);
    }
    if (fd_ < 0) {
        return;
    }
    while (!bytes.empty()) {
        ssize_t written = ::write(fd_, bytes.data(), bytes.size());
        if (written < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (!warned_) {
                spdlog::warn("serial output: write failed ({}), dropping console output", errno);
                warned_ = true;
            }
            return;
        }
        bytes = bytes.subspan(static_cast<size_t>(written));
    }
}

TerminalMode::TerminalMode(int fd) : fd_(fd) {
    termios current{};
    if (!::isatty(fd) || ::tcgetattr(fd, &current) != 0) {
        return;
    }
    saved_ = current;
    termios raw = current;
    raw.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO | ECHONL | IEXTEN);
    raw.c_iflag &= ~static_cast<tcflag_t>(ICRNL | IXON);
    raw.c_cc[VMIN] = 1;
    raw.c_cc[VTIME] = 0;
    ::tcsetattr(fd, TCSANOW, &raw);
}

TerminalMode::~TerminalMode() {
    if (saved_) {
        ::tcsetattr(fd_, TCSANOW, &*saved_);
    }
}

}  // namespace skiff
