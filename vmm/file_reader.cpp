#include "vmm/file_reader.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "vmm/unique_fd.h"

namespace skiff {

Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_size, std::string_view what,
                                         std::string_view limit) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) {
        return errno_error(fmt::format("cannot open {} {}", what, path));
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) != 0) {
        return errno_error(fmt::format("cannot stat {} {}", what, path));
    }
    if (!S_ISREG(status.st_mode)) {
        return Error::format("{} {} is not a regular file", what, path);
    }
    auto size = static_cast<uint64_t>(status.st_size);
    if (size > max_size) {
        return Error::format("{} {} is {} bytes, more than the {} bytes {}", what, path, size, max_size, limit);
    }
    std::vector<std::byte> contents(size);
    size_t done = 0;
    while (done < size) {
        ssize_t count = ::read(fd.get(), contents.data() + done, size - done);
        if (count < 0 && errno == EINTR) {
            continue;
        }
        if (count < 0) {
            return errno_error(fmt::format("reading {} {}", what, path));
        }
        if (count == 0) {
            return Error::format("{} {} shrank while being read", what, path);
        }
        done += static_cast<size_t>(count);
    }
    return contents;
}

}  // namespace skiff
