#include "net/created_links.h"

#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <atomic>
#include <cstring>
#include <mutex>

namespace skiff::net {

namespace {

// A slot is Free, being Filled by remember(), or Armed (the handler sends
// it). The handler reads only Armed slots, whose bytes no longer change.
enum SlotState : int { kFree = 0, kFilling = 1, kArmed = 2 };

struct Slot {
    std::atomic<int> state{kFree};
    size_t length = 0;
    std::array<std::byte, CreatedLinks::kMaxMessage> bytes{};
};

std::array<Slot, CreatedLinks::kSlots> g_slots;

constexpr std::array kCrashSignals{SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
std::array<struct sigaction, kCrashSignals.size()> g_previous{};
std::mutex g_install_lock;

// Only async-signal-safe calls from here on.
void send_armed_requests() {
    for (Slot& slot : g_slots) {
        if (slot.state.load(std::memory_order_acquire) != kArmed) {
            continue;
        }
        int fd = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
        if (fd < 0) {
            continue;
        }
        // rtnetlink handles a request inside send(): once it returns the
        // interface is gone (or the kernel refused); no need to read the ack.
        [[maybe_unused]] ssize_t sent = ::send(fd, slot.bytes.data(), slot.length, 0);
        ::close(fd);
    }
}

void on_crash_signal(int signal_number) {
    int saved_errno = errno;
    send_armed_requests();
    // Back to what was there before (the default: terminate, dump core),
    // then the same signal again: it is delivered when this handler
    // returns (a fault re-executes the faulting instruction anyway).
    for (size_t i = 0; i < kCrashSignals.size(); ++i) {
        if (kCrashSignals[i] == signal_number) {
            ::sigaction(signal_number, &g_previous[i], nullptr);
        }
    }
    ::raise(signal_number);
    errno = saved_errno;
}

// (Re)installs the handler where someone else's is in place now: a
// library or test harness may have replaced it since. What was there
// stays in charge after ours. Called with g_install_lock held.
void install_crash_handler() {
    for (size_t i = 0; i < kCrashSignals.size(); ++i) {
        struct sigaction current {};
        if (::sigaction(kCrashSignals[i], nullptr, &current) == 0 && current.sa_handler == on_crash_signal) {
            continue;
        }
        struct sigaction action {};
        action.sa_handler = on_crash_signal;
        sigemptyset(&action.sa_mask);
        action.sa_flags = SA_RESETHAND;
        struct sigaction previous {};
        if (::sigaction(kCrashSignals[i], &action, &previous) < 0) {
            spdlog::warn("installing the crash clean-up handler for signal {}: {}", kCrashSignals[i],
                         std::strerror(errno));
            continue;
        }
        g_previous[i] = previous;
    }
}

}  // namespace

std::optional<size_t> CreatedLinks::remember(const NetlinkMessage& delete_request) {
    auto bytes = delete_request.bytes();
    if (bytes.size() > kMaxMessage) {
        return std::nullopt;
    }
    {
        std::lock_guard lock(g_install_lock);
        install_crash_handler();
    }
    for (size_t index = 0; index < g_slots.size(); ++index) {
        Slot& slot = g_slots[index];
        int expected = kFree;
        if (!slot.state.compare_exchange_strong(expected, kFilling, std::memory_order_acq_rel)) {
            continue;
        }
        std::memcpy(slot.bytes.data(), bytes.data(), bytes.size());
        slot.length = bytes.size();
        slot.state.store(kArmed, std::memory_order_release);
        return index;
    }
    return std::nullopt;
}

void CreatedLinks::forget(size_t slot) {
    if (slot < g_slots.size()) {
        g_slots[slot].state.store(kFree, std::memory_order_release);
    }
}

void CreatedLinks::send_all_for_crash() { send_armed_requests(); }

}  // namespace skiff::net
