#include "vmm/file_reader.h"

#include "vmm/stop_signals.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

namespace skiff {

namespace {

// Between two steps a stop signal is noticed: ~10 ms of reading each.
constexpr uint64_t kReadStep = 16 * 1024 * 1024;

std::string_view file_type(mode_t mode) {
    if (S_ISFIFO(mode)) {
        return "a FIFO";
    }
    if (S_ISCHR(mode) || S_ISBLK(mode)) {
        return "a device";
    }
    if (S_ISDIR(mode)) {
        return "a directory";
    }
    if (S_ISSOCK(mode)) {
        return "a socket";
    }
    return "not a regular file";
}

}  // namespace

Result<InputFile> InputFile::open(const std::string& path, std::string_view what) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
    if (!fd.valid()) {
        return errno_error(fmt::format("cannot open {} {}", what, path));
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) {
        return errno_error(fmt::format("cannot stat {} {}", what, path));
    }
    if (!S_ISREG(status.st_mode)) {
        return Error::format("{} {} is {}: give a regular file", what, path, file_type(status.st_mode));
    }
    return InputFile(std::move(fd), static_cast<uint64_t>(status.st_size), path, what);
}

Result<void> InputFile::check_size(uint64_t max_size, std::string_view limit_reason) const {
    if (size_ > max_size) {
        return Error::format("{} {} is {} bytes, more than the {} bytes {}", what_, path_, size_, max_size,
                             limit_reason);
    }
    return {};
}

Result<void> InputFile::read_at(uint64_t offset, std::span<std::byte> out) const {
    while (!out.empty()) {
        if (int signal_number = stop_signals::take_pending()) {
            return Error::format("stopped by signal {} during start-up (reading {} {})", signal_number, what_, path_);
        }
        size_t step = static_cast<size_t>(std::min<uint64_t>(out.size(), kReadStep));
        ssize_t count = ::pread(fd_.get(), out.data(), step, static_cast<off_t>(offset));
        if (count < 0 && errno == EINTR) {
            continue;
        }
        if (count < 0) {
            return errno_error(fmt::format("reading {} {}", what_, path_));
        }
        if (count == 0) {
            return Error::format("{} {} shrank while being read", what_, path_);
        }
        offset += static_cast<uint64_t>(count);
        out = out.subspan(static_cast<size_t>(count));
    }
    return {};
}

Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_size, std::string_view what,
                                         std::string_view limit_reason) {
    auto file = TRY(InputFile::open(path, what));
    TRY(file.check_size(max_size, limit_reason));
    std::vector<std::byte> contents(file.size());
    TRY(file.read_at(0, contents));
    return contents;
}

}  // namespace skiff
