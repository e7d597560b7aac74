#include "vmm/parent_directory.h"

#include <sys/stat.h>

#include <cerrno>

namespace skiff {

std::string parent_directory(std::string_view path) {
    size_t slash = path.rfind('/');
    if (slash == std::string_view::npos) {
        return ".";
    }
    // "/x//y": the directory is "/x", and "/y"'s is "/".
    size_t end = path.find_last_not_of('/', slash);
    return end == std::string_view::npos ? "/" : std::string(path.substr(0, end + 1));
}

Result<void> require_parent_directory(std::string_view path) {
    std::string directory = parent_directory(path);
    struct stat status {};
    if (::stat(directory.c_str(), &status) != 0) {
        if (errno == ENOENT || errno == ENOTDIR) {
            return Error::format("directory {} does not exist: create it first", directory);
        }
        return errno_error(fmt::format("directory {}", directory));
    }
    if (!S_ISDIR(status.st_mode)) {
        return Error::format("{} is not a directory", directory);
    }
    return {};
}

}  // namespace skiff
