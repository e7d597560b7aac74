// Files a caller names (kernel, initrd, config file), read so that no path
// can hang or exhaust skiff: opened without blocking (a FIFO or a device
// with no writer cannot stall open()), regular files only, sizes bounded
// before anything is read, and large reads in steps between which a stop
// signal ends start-up (vmm/stop_signals.h).
#pragma once

#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skiff {

class InputFile final {
public:
    // Errors: cannot open or stat; not a regular file (FIFO, device,
    // directory). `what` names the file in messages ("kernel image").
    static Result<InputFile> open(const std::string& path, std::string_view what);

    [[nodiscard]] uint64_t size() const { return size_; }
    [[nodiscard]] const std::string& path() const { return path_; }
    [[nodiscard]] const std::string& what() const { return what_; }

    // Fills `out` from `offset`. Errors: read error, the file shrank, a
    // stop signal arrived ("stopped by signal N during start-up").
    Result<void> read_at(uint64_t offset, std::span<std::byte> out) const;

    // Refuses a file over `max_size` bytes; `limit_reason` says what the
    // limit is and how to lift it, after "more than the N bytes ".
    Result<void> check_size(uint64_t max_size, std::string_view limit_reason) const;

private:
    InputFile(UniqueFd fd, uint64_t size, std::string path, std::string_view what)
        : fd_(std::move(fd)), size_(size), path_(std::move(path)), what_(what) {}

    UniqueFd fd_;
    uint64_t size_ = 0;
    std::string path_;
    std::string what_;
};

// A whole regular file of at most `max_size` bytes (see check_size).
[[nodiscard]] Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_size,
                                                       std::string_view what, std::string_view limit_reason);

}  // namespace skiff
