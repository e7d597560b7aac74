// Move-only owner of an mmap()ed host range.
#pragma once

#include "vmm/result.h"

#include <cstddef>
#include <cstdint>
#include <utility>

namespace skiff {

class MemoryMapping final {
public:
    MemoryMapping() = default;
    ~MemoryMapping();
    MemoryMapping(MemoryMapping&& other) noexcept
        : address_(std::exchange(other.address_, nullptr)), size_(std::exchange(other.size_, 0)) {}
    MemoryMapping& operator=(MemoryMapping&& other) noexcept;
    MemoryMapping(const MemoryMapping&) = delete;
    MemoryMapping& operator=(const MemoryMapping&) = delete;

    // Private anonymous read/write memory, zero-filled, not reserved in swap.
    static Result<MemoryMapping> anonymous(size_t size);
    // A shared mapping of fd at offset (e.g. the kvm_run page of a vCPU).
    static Result<MemoryMapping> shared_file(int fd, size_t size, off_t offset);

    [[nodiscard]] std::byte* data() const { return address_; }
    [[nodiscard]] size_t size() const { return size_; }

private:
    MemoryMapping(std::byte* address, size_t size) : address_(address), size_(size) {}
    std::byte* address_ = nullptr;
    size_t size_ = 0;
};

}  // namespace skiff
