#include "vmm/console_capture.h"

#include <algorithm>

namespace skiff {

ConsoleCapture::ConsoleCapture(size_t limit) : ring_(std::max<size_t>(limit, 1)) {}

void ConsoleCapture::append(std::span<const uint8_t> bytes) {
    if (bytes.empty()) {
        return;
    }
    const std::span<const uint8_t> chunk = bytes;
    std::shared_ptr<const Listener> listener;
    {
        std::lock_guard lock(mutex_);
        listener = listener_;
        // Only the last ring_.size() bytes of a long chunk can stay.
        if (bytes.size() > ring_.size()) {
            total_ += bytes.size() - ring_.size();
            bytes = bytes.last(ring_.size());
        }
        for (uint8_t byte : bytes) {
            ring_[total_ % ring_.size()] = static_cast<char>(byte);
            ++total_;
        }
    }
    appended_.notify_all();
    if (listener) {
        (*listener)(chunk);
    }
}

void ConsoleCapture::set_listener(Listener listener) {
    std::lock_guard lock(mutex_);
    listener_ = listener ? std::make_shared<const Listener>(std::move(listener)) : nullptr;
}

std::string ConsoleCapture::kept_since(uint64_t from) const {
    uint64_t kept_start = total_ - std::min<uint64_t>(total_, ring_.size());
    from = std::clamp(from, kept_start, total_);
    std::string text;
    text.reserve(static_cast<size_t>(total_ - from));
    for (uint64_t position = from; position < total_; ++position) {
        text.push_back(ring_[position % ring_.size()]);
    }
    return text;
}

std::string ConsoleCapture::contents() const {
    std::lock_guard lock(mutex_);
    return kept_since(0);
}

uint64_t ConsoleCapture::total_bytes() const {
    std::lock_guard lock(mutex_);
    return total_;
}

uint64_t ConsoleCapture::discarded_bytes() const {
    std::lock_guard lock(mutex_);
    return total_ - std::min<uint64_t>(total_, ring_.size());
}

bool ConsoleCapture::wait_for(std::string_view text, std::chrono::milliseconds timeout, uint64_t from) const {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    std::unique_lock lock(mutex_);
    // Each look searches only what arrived since the previous one (plus
    // enough before it for a match that straddles the two).
    uint64_t searched_to = from;
    bool first_look = true;
    for (;;) {
        if (first_look || total_ > searched_to) {
            uint64_t start =
                first_look ? from : std::max(from, searched_to - std::min<uint64_t>(searched_to, text.size()));
            if (kept_since(start).find(text) != std::string::npos) {
                return true;
            }
            searched_to = std::max(total_, from);
            first_look = false;
        }
        if (appended_.wait_until(lock, deadline) == std::cv_status::timeout && total_ <= searched_to) {
            return false;
        }
    }
}

}  // namespace skiff
