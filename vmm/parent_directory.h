// Files skiff creates (log, metrics, serial output, the API socket) go into
// a directory that must already exist: skiff creates no directories, so a
// typo in a path is an error that names the missing directory rather than
// a new directory tree (spdlog's file sink would make one).
#pragma once

#include "vmm/result.h"

#include <string>
#include <string_view>

namespace skiff {

// The directory `path` names its file in: "." for "file", "/" for "/file".
[[nodiscard]] std::string parent_directory(std::string_view path);

// Error "directory /x/y does not exist: create it first" when the parent
// of `path` is missing, "/x/y is not a directory" when it is something
// else; the caller puts the flag or field and the path in front.
[[nodiscard]] Result<void> require_parent_directory(std::string_view path);

}  // namespace skiff
