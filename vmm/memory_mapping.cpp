#include "vmm/memory_mapping.h"

#include <sys/mman.h>

namespace skiff {

MemoryMapping::~MemoryMapping() {
    if (address_ != nullptr) {
        ::munmap(address_, size_);
    }
}

MemoryMapping& MemoryMapping::operator=(MemoryMapping&& other) noexcept {
    if (this != &other) {
        if (address_ != nullptr) {
            ::munmap(address_, size_);
        }
        address_ = std::exchange(other.address_, nullptr);
        size_ = std::exchange(other.size_, 0);
    }
    return *this;
}

Result<MemoryMapping> MemoryMapping::anonymous(size_t size) {
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (address == MAP_FAILED) {
        return errno_error(fmt::format("mapping {} MiB of guest memory", size >> 20));
    }
    return MemoryMapping(static_cast<std::byte*>(address), size);
}

Result<MemoryMapping> MemoryMapping::shared_file(int fd, size_t size, off_t offset) {
    void* address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, offset);
    if (address == MAP_FAILED) {
        return errno_error("mmap of a shared file range");
    }
    return MemoryMapping(static_cast<std::byte*>(address), size);
}

}  // namespace skiff
