#include "net/created_links.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>

#include <array>
#include <cerrno>
#include <atomic>
#include <cstring>
#include <mutex>
#include <optional>

namespace skiff::net {

namespace {

// A slot is Free, being Filled by remember(), or Armed (the handler sends
// it). The handler reads only Armed slots, whose bytes no longer change.
enum SlotState : int { kFree = 0, kFilling = 1, kArmed = 2 };

struct Slot {
    std::atomic<int> state{kFree};
    // Sent on the crash socket; otherwise on one the handler opens.
    bool on_crash_socket = false;
    size_t length = 0;
    std::array<std::byte, CreatedLinks::kMaxMessage> bytes{};
};

std::array<Slot, CreatedLinks::kSlots> g_slots;

constexpr std::array kCrashSignals{SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT};
std::array<struct sigaction, kCrashSignals.size()> g_previous{};
// Serialises remember(): the handler installation, the crash socket, and
// the filling of slots.
std::mutex g_remember_lock;

// The crash socket (see created_links.h), and the network namespace it
// was opened in (guarded by g_remember_lock).
std::atomic<int> g_crash_socket{-1};
struct NamespaceIdentity {
    dev_t device = 0;
    ino_t inode = 0;
    bool operator==(const NamespaceIdentity&) const = default;
};
std::optional<NamespaceIdentity> g_crash_socket_namespace;

// The calling thread's network namespace; nullopt when /proc cannot say.
std::optional<NamespaceIdentity> current_network_namespace() {
    struct stat status {};
    if (::stat("/proc/thread-self/ns/net", &status) != 0) {
        return std::nullopt;
    }
    return NamespaceIdentity{status.st_dev, status.st_ino};
}

bool requests_armed_on_crash_socket() {
    for (const Slot& slot : g_slots) {
        if (slot.state.load(std::memory_order_acquire) == kArmed && slot.on_crash_socket) {
            return true;
        }
    }
    return false;
}

// Whether a request made now, from this thread's namespace, can go on the
// crash socket; opens it (or replaces it, keeping its fd number) when
// needed. Called with g_remember_lock held.
bool prepare_crash_socket() {
    int current = g_crash_socket.load(std::memory_order_acquire);
    auto here = current_network_namespace();
    // Unknown on either side: the same namespace (skiff never changes it).
    bool same_namespace = !here || !g_crash_socket_namespace || *here == *g_crash_socket_namespace;
    if (current >= 0 && same_namespace) {
        return true;
    }
    if (current >= 0 && requests_armed_on_crash_socket()) {
        spdlog::warn("crash clean-up: interfaces created in two network namespaces; after a crash, those in this "
                     "one are removed only if the crashing thread may open a netlink socket (not a filtered vCPU "
                     "or API thread)");
        return false;
    }
    int opened = ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (opened < 0) {
        spdlog::warn("crash clean-up: opening its netlink socket: {}: after a crash on a vCPU or API thread the "
                     "interfaces skiff created are left behind (ip link delete NAME)",
                     std::strerror(errno));
        return false;
    }
    if (current >= 0) {
        // Same fd number: the seccomp filters built since name it.
        if (::dup3(opened, current, O_CLOEXEC) < 0) {
            spdlog::warn("crash clean-up: replacing its netlink socket: {}", std::strerror(errno));
            ::close(opened);
            return false;
        }
        ::close(opened);
    } else {
        g_crash_socket.store(opened, std::memory_order_release);
    }
    g_crash_socket_namespace = here;
    return true;
}

// Only async-signal-safe calls from here on.
size_t send_armed_requests() {
    size_t sent_whole = 0;
    int crash_socket = g_crash_socket.load(std::memory_order_acquire);
    for (Slot& slot : g_slots) {
        if (slot.state.load(std::memory_order_acquire) != kArmed) {
            continue;
        }
        bool own_socket = !slot.on_crash_socket || crash_socket < 0;
        int fd = own_socket ? ::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE) : crash_socket;
        if (fd < 0) {
            continue;
        }
        // rtnetlink handles a request inside send(): once it returns the
        // interface is gone (or the kernel refused); no need to read the ack.
        ssize_t sent = ::send(fd, slot.bytes.data(), slot.length, 0);
        if (sent == static_cast<ssize_t>(slot.length)) {
            ++sent_whole;
        }
        if (own_socket) {
            ::close(fd);
        }
    }
    return sent_whole;
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
// stays in charge after ours. Called with g_remember_lock held.
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
    std::lock_guard lock(g_remember_lock);
    install_crash_handler();
    bool on_crash_socket = prepare_crash_socket();
    for (size_t index = 0; index < g_slots.size(); ++index) {
        Slot& slot = g_slots[index];
        int expected = kFree;
        if (!slot.state.compare_exchange_strong(expected, kFilling, std::memory_order_acq_rel)) {
            continue;
        }
        std::memcpy(slot.bytes.data(), bytes.data(), bytes.size());
        slot.length = bytes.size();
        slot.on_crash_socket = on_crash_socket;
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

int CreatedLinks::crash_socket() { return g_crash_socket.load(std::memory_order_acquire); }

size_t CreatedLinks::send_all_for_crash() { return send_armed_requests(); }

}  // namespace skiff::net
