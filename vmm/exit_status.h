// skiff's process exit status: what a script or a test harness reads.
#pragma once

#include <string_view>

namespace skiff {

enum class ExitStatus : int {
    GuestShutdown = 0,   // the guest powered off or rebooted (i8042 reset,
                         // KVM system event), or skiff was asked to stop
                         // (SIGTERM/SIGINT)
    StartupError = 1,    // bad configuration, unreadable or malformed image,
                         // host lacks what skiff needs
    UsageError = 2,      // bad command-line flags
    GuestCrash = 3,      // triple fault (KVM_EXIT_SHUTDOWN) or a guest-reported
                         // crash event
    KvmError = 4,        // KVM internal error, emulation failure skiff could
                         // not complete, failed VM entry, failing ioctl
    Timeout = 5,         // --timeout expired before the guest shut down
    SeccompViolation = 6,  // a thread made a system call outside its seccomp
                           // allow list (vmm/seccomp.h)
};

constexpr std::string_view describe(ExitStatus status) {
    switch (status) {
        case ExitStatus::GuestShutdown: return "guest shut down";
        case ExitStatus::StartupError: return "start-up error";
        case ExitStatus::UsageError: return "usage error";
        case ExitStatus::GuestCrash: return "guest crashed";
        case ExitStatus::KvmError: return "KVM error";
        case ExitStatus::Timeout: return "timeout";
        case ExitStatus::SeccompViolation: return "forbidden system call";
    }
    return "unknown";
}

}  // namespace skiff
