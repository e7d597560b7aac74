#include "vmm/result.h"

#include <cerrno>
#include <cstring>

namespace skiff {

Error errno_error(std::string_view what, int saved_errno) {
    return Error{fmt::format("{}: {}", what, std::strerror(saved_errno))};
}

Error errno_error(std::string_view what) { return errno_error(what, errno); }

}  // namespace skiff
