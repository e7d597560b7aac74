// Guest console output kept in memory, for harnesses and the library: the
// last `limit` bytes (older ones are counted, then dropped), readable from
// any thread while the vCPU threads append to it.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace skiff {

class ConsoleCapture final {
public:
    static constexpr size_t kDefaultLimit = 1024 * 1024;
    using Listener = std::function<void(std::span<const uint8_t>)>;

    // `limit` 0 is taken as 1: the capture always holds the last byte.
    explicit ConsoleCapture(size_t limit = kDefaultLimit);

    void append(std::span<const uint8_t> bytes);

    // Called with every chunk once it is kept, on the thread that appended
    // it (a vCPU's: keep it short). The UART delivers the guest's output a
    // byte at a time. Replaces the previous listener; empty: none. May be
    // set while output arrives.
    void set_listener(Listener listener);

    // The bytes kept, oldest first (at most limit()).
    [[nodiscard]] std::string contents() const;
    // Bytes ever appended, and of those the ones dropped to stay in bounds.
    [[nodiscard]] uint64_t total_bytes() const;
    [[nodiscard]] uint64_t discarded_bytes() const;
    [[nodiscard]] size_t limit() const { return ring_.size(); }

    // Waits until `text` appears in output appended since the capture had
    // `from` bytes in total (0: everything still kept), or `timeout` passes.
    // Returns whether it appeared. Text partly dropped already may be missed.
    [[nodiscard]] bool wait_for(std::string_view text, std::chrono::milliseconds timeout, uint64_t from = 0) const;

private:
    // Kept bytes from absolute position `from` on; mutex_ held.
    [[nodiscard]] std::string kept_since(uint64_t from) const;

    mutable std::mutex mutex_;
    mutable std::condition_variable appended_;
    std::vector<char> ring_;  // byte at absolute position p is ring_[p % size]
    uint64_t total_ = 0;
    std::shared_ptr<const Listener> listener_;
};

}  // namespace skiff
