// Reads a whole regular file with an upper bound on its size, so a wrong
// path (a device, a huge file) fails cleanly instead of exhausting memory.
#pragma once

#include "vmm/result.h"

#include <cstddef>
#include <string>
#include <vector>

namespace skiff {

inline constexpr std::string_view kGuestMemoryLimit = "that fit in guest memory: give the VM more --memory";

// `limit` ends the error for a larger file: why max_size is the most.
[[nodiscard]] Result<std::vector<std::byte>> read_file(const std::string& path, uint64_t max_size,
                                                       std::string_view what,
                                                       std::string_view limit = kGuestMemoryLimit);

}  // namespace skiff
