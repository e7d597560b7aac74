// seccomp allow-list filters, one per kind of thread, each installed by the
// thread on itself once its set-up is done (no TSYNC: the filters differ).
// A system call outside the list raises SIGSYS (SCMP_ACT_TRAP); the handler
// writes one line naming the thread kind and the call, then ends skiff with
// ExitStatus::SeccompViolation.
//
// Who installs what, and when:
// - a vCPU thread (VcpuRunner::loop), before its first KVM_RUN;
// - the event-loop thread (Machine::run), once the vCPU threads exist (a
//   filter is inherited by threads created later) and the loop's own fds
//   (signalfd, timer, terminal mode) are set up;
// - the API thread (the HTTP server's poll loop) at the first turn of its
//   loop after arm(), and the metrics thread when it starts;
// - the main thread once the VM runs (`skiff run` after start-up, the API
//   mode's wait loop once armed): it only waits (signals, joins) and does
//   the orderly clean-up at exit (devices torn down, macvtaps deleted, VFIO
//   functions given back through sysfs, the API socket file removed). Every
//   thread shares one address space, so an unfiltered one would be the way
//   out of the others' filters. Not in sanitized builds: LeakSanitizer runs
//   on the main thread at exit (it clones and ptraces).
#pragma once

#include "vmm/result.h"

#include <linux/filter.h>

#include <cstddef>
#include <string_view>
#include <vector>

namespace skiff::seccomp {

enum class ThreadKind { Vcpu, EventLoop, Api, Main };

// "vcpu", "event-loop", "api", "main": as the SIGSYS line and the log name them.
std::string_view kind_name(ThreadKind kind);

// Process-wide switch, set by VmInstance::launch once the VM is built (and
// privileges dropped): enabled installs the SIGSYS handler and lets
// install_if_armed() install filters. arm(false) installs nothing.
void arm(bool enabled);
[[nodiscard]] bool armed();

// A compiled filter (classic BPF), ready for load_filter().
struct Program {
    ThreadKind kind = ThreadKind::Vcpu;
    std::vector<sock_filter> instructions;
};

// Builds `kind`'s filter with libseccomp (allocates: call it before any
// fork whose child should only load). Also prepares the SIGSYS handler's
// name table. Reads net::CreatedLinks::crash_socket() now: once skiff
// created a macvtap, every kind may send() on that fd (the crash clean-up).
Result<Program> build_filter(ThreadKind kind);
// Installs the SIGSYS handler and loads `program` on the calling thread
// (PR_SET_NO_NEW_PRIVS, then seccomp(SECCOMP_SET_MODE_FILTER) without
// TSYNC). No allocation: usable in a forked child. Errors: the kernel
// refused (no seccomp, bad program).
Result<void> load_filter(const Program& program);
// build_filter + load_filter, and a debug log line the first time a kind
// is installed.
Result<void> install_filter(ThreadKind kind);
// install_filter() once per thread, when armed(); otherwise nothing.
Result<void> install_if_armed(ThreadKind kind);

// How many distinct system calls `kind` may make (some only with given
// arguments: ioctl by request, mmap/mprotect without PROT_EXEC, tgkill by
// signal, sendto on a vcpu thread by fd), as build_filter would build it
// now (the vcpu kind has one more, sendto, when there is a crash socket).
std::size_t allow_list_size(ThreadKind kind);

}  // namespace skiff::seccomp
