// Bounds-checked reads from untrusted bytes (kernel images, guest tables).
// Every read checks offset and length without overflow and copies out with
// memcpy, so a truncated or hostile image yields "nothing", never undefined
// behaviour (no misaligned or out-of-range pointer is ever formed).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <type_traits>

namespace skiff::boot {

// The on-disk formats skiff reads are little-endian, as is every x86 host.
static_assert(std::endian::native == std::endian::little, "skiff's image readers assume a little-endian host");

// True if [offset, offset + length) lies inside `size` bytes.
[[nodiscard]] constexpr bool range_inside(uint64_t offset, uint64_t length, uint64_t size) {
    return offset <= size && length <= size - offset;
}

template <typename T>
    requires std::is_trivially_copyable_v<T>
[[nodiscard]] std::optional<T> read_at(std::span<const std::byte> bytes, uint64_t offset) {
    if (!range_inside(offset, sizeof(T), bytes.size())) {
        return std::nullopt;
    }
    T value;
    std::memcpy(&value, bytes.data() + offset, sizeof(T));
    return value;
}

// The sub-span [offset, offset + length), or nothing if it is not inside.
[[nodiscard]] inline std::optional<std::span<const std::byte>> sub_span(std::span<const std::byte> bytes,
                                                                        uint64_t offset, uint64_t length) {
    if (!range_inside(offset, length, bytes.size())) {
        return std::nullopt;
    }
    return bytes.subspan(offset, length);
}

// Appends the object representation of `value` to a byte buffer.
template <typename Buffer, typename T>
    requires std::is_trivially_copyable_v<T>
void append_object(Buffer& buffer, const T& value) {
    const auto* first = reinterpret_cast<const std::byte*>(&value);
    for (size_t index = 0; index < sizeof(T); ++index) {
        buffer.push_back(static_cast<typename Buffer::value_type>(first[index]));
    }
}

// Two's-complement byte sum, as used by the MP and ACPI checksums: a table
// is valid when all its bytes (checksum field included) sum to 0 mod 256.
[[nodiscard]] inline uint8_t byte_sum(std::span<const std::byte> bytes) {
    uint8_t sum = 0;
    for (std::byte value : bytes) {
        sum = static_cast<uint8_t>(sum + static_cast<uint8_t>(value));
    }
    return sum;
}

// The checksum byte that makes `bytes` (with the checksum field at 0) sum to 0.
[[nodiscard]] inline uint8_t checksum_for(std::span<const std::byte> bytes) {
    return static_cast<uint8_t>(0x100 - byte_sum(bytes));
}

}  // namespace skiff::boot
