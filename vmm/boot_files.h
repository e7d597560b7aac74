// The kernel and initrd files a caller names, read for booting: the kernel
// is refused on its first bytes when it is no kernel (not after reading a
// gigabyte), the initrd goes straight into guest memory, and both are
// bounded by the guest's memory before anything is read.
#pragma once

#include "boot/initrd.h"
#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace skiff {

// The whole kernel image. Errors: InputFile's, larger than guest memory,
// not a kernel by its magic.
[[nodiscard]] Result<std::vector<std::byte>> read_kernel_file(const std::string& path, uint64_t memory_bytes);

// The initrd, opened and checked now, read when the loader has placed it.
[[nodiscard]] Result<boot::InitrdSource> open_initrd(const std::string& path, uint64_t memory_bytes);

}  // namespace skiff
