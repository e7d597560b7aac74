#include "vmm/output_file.h"

#include "vmm/parent_directory.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <sys/stat.h>

namespace skiff {

Result<UniqueFd> open_output_file(const std::string& path, std::string_view what, OutputMode mode) {
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC | O_NONBLOCK | O_NOCTTY;
    if (mode == OutputMode::Append) {
        flags |= O_APPEND;
    }
    UniqueFd fd(::open(path.c_str(), flags, 0644));
    if (!fd.valid()) {
        int error = errno;
        if (error == ENXIO) {
            return Error::format("{} {} is a FIFO with no reader: start its reader first", what, path);
        }
        if (error == ENOENT) {
            return Error::format("{} {}: directory {} does not exist: create it first", what, path,
                                 parent_directory(path));
        }
        return errno_error(fmt::format("cannot open {} {} for writing", what, path), error);
    }
    struct stat status {};
    if (::fstat(fd.get(), &status) == 0 && S_ISFIFO(status.st_mode)) {
        int current = ::fcntl(fd.get(), F_GETFL);
        if (current >= 0) {
            ::fcntl(fd.get(), F_SETFL, current & ~O_NONBLOCK);
        }
    }
    return fd;
}

}  // namespace skiff
