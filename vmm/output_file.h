// Files skiff writes to at a caller's word (console, log, metrics): opened
// without blocking, so a FIFO with no reader is a clear error instead of a
// hang in open(); never truncated here (the caller decides when), and no
// missing directory is created.
#pragma once

#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <string>
#include <string_view>

namespace skiff {

enum class OutputMode { Overwrite, Append };

// Creates the file if missing (mode 0644). A FIFO with a reader is
// switched back to blocking writes, as a pipe on stdout would be. Errors:
// FIFO without a reader, missing directory, a directory, no permission;
// each names `what` and `path`.
[[nodiscard]] Result<UniqueFd> open_output_file(const std::string& path, std::string_view what,
                                                OutputMode mode = OutputMode::Overwrite);

}  // namespace skiff
