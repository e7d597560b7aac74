#include "vmm/console.h"

#include "vmm/output_file.h"

#include <fcntl.h>
#include <sys/stat.h>
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
            UniqueFd file = TRY(open_output_file(config.path, "serial output file"));
            int fd = file.get();
            return ConsoleOutput(fd, std::move(file));
        }
        case SerialOutput::Capture:
            return ConsoleOutput(-1, UniqueFd(),
                                 std::make_shared<ConsoleCapture>(static_cast<size_t>(config.capture_limit)));
    }
    return Error{"unknown serial output"};
}

void ConsoleOutput::begin() {
    struct stat status {};
    if (owned_.valid() && ::fstat(owned_.get(), &status) == 0 && S_ISREG(status.st_mode)) {
        if (::ftruncate(owned_.get(), 0) != 0) {
            spdlog::warn("serial output: cannot empty the console file ({})", errno);
        }
    }
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
