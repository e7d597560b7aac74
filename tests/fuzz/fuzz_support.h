// What every fuzz target shares: FUZZ_CHECK (an invariant the fuzzer must
// see broken as a crash), the input reader that decodes operations from the
// fuzzer's bytes, and the log level set up in LLVMFuzzerInitialize.
#pragma once

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string_view>

// Aborts (a crash the fuzzer records) when an invariant does not hold.
#define FUZZ_CHECK(condition)                                                                   \
    do {                                                                                        \
        if (!(condition)) {                                                                     \
            std::fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #condition); \
            std::abort();                                                                       \
        }                                                                                       \
    } while (0)

namespace skiff::fuzz {

// Logging is off while fuzzing; SKIFF_FUZZ_LOG=debug shows what an input
// does when replaying one.
inline void init_logging() {
    const char* level = std::getenv("SKIFF_FUZZ_LOG");
    spdlog::set_level(level != nullptr ? spdlog::level::from_str(level) : spdlog::level::off);
}

// Reads the input front to back as it is needed, little endian; zeros once
// it runs out, so every input decodes to something.
class Input {
public:
    Input(const uint8_t* data, size_t size) : data_(data), size_(size) {}

    [[nodiscard]] bool empty() const { return size_ == 0; }
    [[nodiscard]] size_t remaining() const { return size_; }

    uint8_t byte() {
        if (size_ == 0) {
            return 0;
        }
        --size_;
        return *data_++;
    }
    // The operands of | are unsequenced: read low, then high.
    uint16_t word() {
        const uint8_t low = byte();
        return static_cast<uint16_t>(low | (byte() << 8));
    }
    uint32_t dword() {
        const uint16_t low = word();
        return low | (uint32_t{word()} << 16);
    }

    // Input bytes into `out` as far as they go, the rest zero.
    void bytes(std::span<uint8_t> out) {
        const size_t taken = std::min(out.size(), size_);
        if (taken != 0) {  // an empty span's data() may be null
            std::memcpy(out.data(), data_, taken);
        }
        std::fill(out.begin() + static_cast<std::ptrdiff_t>(taken), out.end(), uint8_t{0});
        data_ += taken;
        size_ -= taken;
    }
    // Up to `count` input bytes as they are (fewer when the input ends).
    std::span<const uint8_t> take(size_t count) {
        const size_t taken = std::min(count, size_);
        std::span<const uint8_t> bytes(data_, taken);
        data_ += taken;
        size_ -= taken;
        return bytes;
    }
    // Everything left.
    std::span<const uint8_t> rest() { return take(size_); }
    // The bytes up to the next NUL (which is consumed), or the rest.
    std::string_view until_nul() {
        if (size_ == 0) {
            return {};
        }
        const auto* end = static_cast<const uint8_t*>(std::memchr(data_, 0, size_));
        const size_t length = end == nullptr ? size_ : static_cast<size_t>(end - data_);
        std::string_view text(reinterpret_cast<const char*>(data_), length);
        data_ += length;
        size_ -= length;
        if (size_ != 0) {
            ++data_;
            --size_;
        }
        return text;
    }

private:
    const uint8_t* data_;
    size_t size_;
};

}  // namespace skiff::fuzz
