#include "vmm/stop_signals.h"

#include <atomic>

namespace skiff::stop_signals {

namespace {

std::atomic<int> g_received{0};
sigset_t g_set;

// A stop signal that skiff's caller ignores (nohup: SIGHUP) stays ignored:
// blocked, it would be queued and read like any other.
sigset_t make_set() {
    sigset_t signals;
    sigemptyset(&signals);
    for (int signal_number : {SIGINT, SIGTERM, SIGHUP, SIGQUIT}) {
        struct sigaction current {};
        if (::sigaction(signal_number, nullptr, &current) == 0 && current.sa_handler == SIG_IGN) {
            continue;
        }
        sigaddset(&signals, signal_number);
    }
    return signals;
}

}  // namespace

const sigset_t& set() { return g_set; }

void block() {
    g_set = make_set();
    pthread_sigmask(SIG_BLOCK, &g_set, nullptr);
    for (int signal_number : {SIGPIPE, SIGUSR1, SIGUSR2}) {
        ::signal(signal_number, SIG_IGN);
    }
}

void note(int signal_number) {
    int none = 0;
    g_received.compare_exchange_strong(none, signal_number);
}

int take_pending() {
    siginfo_t info{};
    const timespec no_wait{0, 0};
    int signal_number = ::sigtimedwait(&set(), &info, &no_wait);
    if (signal_number <= 0) {
        return 0;
    }
    note(signal_number);
    return signal_number;
}

int received() { return g_received.load(); }

}  // namespace skiff::stop_signals
