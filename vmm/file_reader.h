// Reads a whole regular file with an upper bound on its size, so a wrong
// path (a device, a huge file) fails cleanly instead of exhausting memory.
#pragma once

#include "vmm/result.h"

#include <cstddef>
#include <string>
#include <vector>

namespace skiff {

[[nodiscard]] Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_size,
                                                       std::string_view what);

}  // namespace skiff
