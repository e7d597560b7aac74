// Guest-physical memory: a set of non-overlapping GPA ranges backed by host
// mappings. Every access takes (address, length) and is checked against the
// ranges, including arithmetic overflow, before any host pointer is formed.
#pragma once

#include "vmm/memory_mapping.h"
#include "vmm/result.h"

#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>
#include <vector>

namespace skiff {

// A guest-physical address. Its own type so that it never mixes silently
// with host pointers, lengths or guest-virtual addresses.
class GuestAddress {
public:
    constexpr GuestAddress() = default;
    constexpr explicit GuestAddress(uint64_t value) : value_(value) {}
    [[nodiscard]] constexpr uint64_t value() const { return value_; }

    // The address `offset` bytes further, or nothing on 64-bit overflow.
    [[nodiscard]] constexpr std::optional<GuestAddress> checked_add(uint64_t offset) const {
        uint64_t sum = 0;
        if (__builtin_add_overflow(value_, offset, &sum)) {
            return std::nullopt;
        }
        return GuestAddress(sum);
    }
    // Unchecked; only for constants known to be in range.
    [[nodiscard]] constexpr GuestAddress operator+(uint64_t offset) const {
        return GuestAddress(value_ + offset);
    }
    constexpr auto operator<=>(const GuestAddress&) const = default;

private:
    uint64_t value_ = 0;
};

struct GuestRegion {
    GuestAddress start;
    uint64_t size = 0;
    std::byte* host = nullptr;

    [[nodiscard]] uint64_t end() const { return start.value() + size; }  // exclusive
};

class GuestMemory final {
public:
    struct RangeSpec {
        GuestAddress start;
        uint64_t size;
    };

    GuestMemory() = default;
    GuestMemory(GuestMemory&&) noexcept = default;
    GuestMemory& operator=(GuestMemory&&) noexcept = default;
    GuestMemory(const GuestMemory&) = delete;
    GuestMemory& operator=(const GuestMemory&) = delete;

    // Allocates anonymous host memory for each range. Ranges must be
    // page-aligned, non-empty and must not overlap.
    static Result<GuestMemory> create(const std::vector<RangeSpec>& ranges);

    // Host bytes for [address, address + length), which must lie inside one
    // region. length 0 is allowed for any address inside or at the end of a
    // region.
    [[nodiscard]] Result<std::span<std::byte>> slice(GuestAddress address, uint64_t length) const;
    [[nodiscard]] bool contains(GuestAddress address, uint64_t length) const;

    [[nodiscard]] Result<void> write(GuestAddress address, std::span<const std::byte> bytes) const;
    [[nodiscard]] Result<void> read(GuestAddress address, std::span<std::byte> bytes) const;
    [[nodiscard]] Result<void> fill(GuestAddress address, uint64_t length, std::byte value) const;

    template <typename T>
        requires std::is_trivially_copyable_v<T>
    [[nodiscard]] Result<void> write_object(GuestAddress address, const T& object) const {
        return write(address, std::as_bytes(std::span<const T, 1>(&object, 1)));
    }

    template <typename T>
        requires std::is_trivially_copyable_v<T>
    [[nodiscard]] Result<T> read_object(GuestAddress address) const {
        T object{};
        auto status = read(address, std::as_writable_bytes(std::span<T, 1>(&object, 1)));
        if (!status.ok()) {
            return status.release_error();
        }
        return object;
    }

    [[nodiscard]] const std::vector<GuestRegion>& regions() const { return regions_; }
    // Sum of all region sizes.
    [[nodiscard]] uint64_t total_size() const;
    // End (exclusive) of the highest region.
    [[nodiscard]] GuestAddress end() const;

private:
    std::vector<MemoryMapping> mappings_;
    std::vector<GuestRegion> regions_;  // sorted by start
};

}  // namespace skiff
