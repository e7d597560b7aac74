#include "vmm/vcpu_runner.h"

#include "vmm/log_limit.h"
#include "vmm/seccomp.h"

#include <pthread.h>
#include <signal.h>

#include <spdlog/spdlog.h>

namespace skiff {

namespace {

int kick_signal() { return SIGRTMIN; }

void ignore_kick(int /*signal*/) {}

}  // namespace

VcpuRunner::VcpuRunner(VcpuFd vcpu, const Bus& pio, const Bus& mmio, VmLifecycle& lifecycle,
                       EmulationFailureHandler emulation_failure)
    : vcpu_(std::move(vcpu)), pio_(pio), mmio_(mmio), lifecycle_(lifecycle),
      emulation_failure_(std::move(emulation_failure)) {}

VcpuRunner::~VcpuRunner() {
    if (thread_.joinable()) {
        kick();
        thread_.join();
    }
}

void VcpuRunner::install_kick_signal() {
    struct sigaction action {};
    action.sa_handler = ignore_kick;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;  // no SA_RESTART: KVM_RUN must return EINTR
    ::sigaction(kick_signal(), &action, nullptr);
}

void VcpuRunner::start(bool seccomp_filter) {
    std::lock_guard lock(mutex_);  // the new thread waits for state_
    seccomp_filter_ = seccomp_filter;
    thread_ = std::thread([this] { loop(); });
    handle_ = thread_.native_handle();
    state_ = ThreadState::Running;
}

void VcpuRunner::kick() {
    // Under the mutex: the thread clears immediate_exit under it too, so a
    // kick is never lost between its clearing and its next look at the
    // pause request and the lifecycle.
    std::lock_guard lock(mutex_);
    __atomic_store_n(&vcpu_.run_page().immediate_exit, 1, __ATOMIC_SEQ_CST);
    if (state_ == ThreadState::Running || state_ == ThreadState::Parked) {
        ::pthread_kill(handle_, kick_signal());
    }
    changed_.notify_all();
}

void VcpuRunner::join() {
    if (thread_.joinable()) {
        thread_.join();
        spdlog::debug("vCPU {}: {} port I/O and {} MMIO exits to skiff", vcpu_.index(), io_exits_, mmio_exits_);
    }
}

void VcpuRunner::request_pause() {
    {
        std::lock_guard lock(mutex_);
        pause_requested_ = true;
    }
    kick();
}

void VcpuRunner::wait_until_paused() {
    std::unique_lock lock(mutex_);
    changed_.wait(lock, [this] { return !pause_requested_ || state_ != ThreadState::Running; });
}

void VcpuRunner::pause() {
    request_pause();
    wait_until_paused();
}

void VcpuRunner::resume() {
    {
        std::lock_guard lock(mutex_);
        pause_requested_ = false;
    }
    changed_.notify_all();
}

void VcpuRunner::loop() {
    // Named by itself (prctl): naming another thread goes through
    // /proc/self/task/TID/comm, which a process no longer dumpable after
    // --uid cannot open (the thread kept its creator's name, skiff-vmm).
    ::pthread_setname_np(::pthread_self(), fmt::format("skiff-vcpu{}", vcpu_.index()).c_str());
    // The kick signal must reach this thread even if the creator blocked it.
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, kick_signal());
    ::pthread_sigmask(SIG_UNBLOCK, &set, nullptr);

    Result<void> filtered = seccomp_filter_ ? seccomp::install_filter(seccomp::ThreadKind::Vcpu) : Result<void>();
    if (filtered.ok()) {
        run_until_stopped();
    } else {
        lifecycle_.request_stop(ExitStatus::StartupError,
                                fmt::format("vCPU {}: {}", vcpu_.index(), filtered.error().message));
    }

    std::lock_guard lock(mutex_);
    state_ = ThreadState::Ended;
    changed_.notify_all();
}

void VcpuRunner::run_until_stopped() {
    for (;;) {
        // immediate_exit is set by every kick (pause or stop) and only by
        // one: while it is clear there is nothing to look at.
        if (__atomic_load_n(&vcpu_.run_page().immediate_exit, __ATOMIC_SEQ_CST) != 0 && !wait_while_paused()) {
            return;
        }
        if (lifecycle_.stopping()) {
            return;
        }
        auto entered = vcpu_.run();
        if (!entered.ok()) {
            lifecycle_.request_stop(ExitStatus::KvmError,
                                    fmt::format("vCPU {}: {}", vcpu_.index(), entered.error().message));
            return;
        }
        if (!entered.value()) {
            continue;  // interrupted by a kick: re-check the lifecycle
        }
        if (!handle_exit()) {
            return;
        }
    }
}

bool VcpuRunner::wait_while_paused() {
    std::unique_lock lock(mutex_);
    // Every kick so far is seen below; later ones set it again.
    __atomic_store_n(&vcpu_.run_page().immediate_exit, 0, __ATOMIC_SEQ_CST);
    if (pause_requested_ && !lifecycle_.stopping()) {
        state_ = ThreadState::Parked;
        changed_.notify_all();
        changed_.wait(lock, [this] { return !pause_requested_ || lifecycle_.stopping(); });
        state_ = ThreadState::Running;
        __atomic_store_n(&vcpu_.run_page().immediate_exit, 0, __ATOMIC_SEQ_CST);
    }
    return !lifecycle_.stopping();
}

bool VcpuRunner::handle_exit() {
    kvm_run& run = vcpu_.run_page();
    switch (run.exit_reason) {
        case KVM_EXIT_IO:
            ++io_exits_;
            handle_io(run);
            return true;
        case KVM_EXIT_MMIO:
            ++mmio_exits_;
            handle_mmio(run);
            return true;
        case KVM_EXIT_HLT:
            // Only without an in-kernel LAPIC; skiff always has one.
            return true;
        case KVM_EXIT_INTR:
            return true;
        case KVM_EXIT_SHUTDOWN: {
            auto registers = vcpu_.registers();
            lifecycle_.request_stop(
                ExitStatus::GuestCrash,
                fmt::format("vCPU {}: triple fault (rip {:#x})", vcpu_.index(),
                            registers.ok() ? registers->rip : 0));
            return false;
        }
        case KVM_EXIT_SYSTEM_EVENT:
            if (run.system_event.type == KVM_SYSTEM_EVENT_CRASH) {
                lifecycle_.request_stop(ExitStatus::GuestCrash,
                                        fmt::format("vCPU {}: guest reported a crash", vcpu_.index()));
            } else {
                lifecycle_.request_stop(ExitStatus::GuestShutdown,
                                        fmt::format("guest {} (system event {})",
                                                    run.system_event.type == KVM_SYSTEM_EVENT_RESET
                                                        ? "reset" : "shut down",
                                                    run.system_event.type));
            }
            return false;
        case KVM_EXIT_INTERNAL_ERROR: {
            auto completed = emulation_failure_
                                 ? emulation_failure_(vcpu_)
                                 : Result<void>(Error{"no handler for KVM internal errors"});
            if (completed.ok()) {
                return true;
            }
            lifecycle_.request_stop(ExitStatus::KvmError,
                                    fmt::format("vCPU {}: KVM internal error, suberror {}: {}",
                                                vcpu_.index(), run.internal.suberror,
                                                completed.error().message));
            return false;
        }
        case KVM_EXIT_FAIL_ENTRY:
            lifecycle_.request_stop(
                ExitStatus::KvmError,
                fmt::format("vCPU {}: VM entry failed, hardware reason {:#x}", vcpu_.index(),
                            static_cast<uint64_t>(run.fail_entry.hardware_entry_failure_reason)));
            return false;
        default:
            lifecycle_.request_stop(ExitStatus::KvmError, fmt::format("vCPU {}: unexpected KVM exit {}",
                                                                      vcpu_.index(), run.exit_reason));
            return false;
    }
}

void VcpuRunner::handle_io(kvm_run& run) {
    auto* base = reinterpret_cast<uint8_t*>(&run) + run.io.data_offset;
    for (uint32_t i = 0; i < run.io.count; ++i) {
        std::span<uint8_t> data(base + static_cast<size_t>(i) * run.io.size, run.io.size);
        if (run.io.direction == KVM_EXIT_IO_IN) {
            if (!pio_.read(run.io.port, data)) {
                SPDLOG_TRACE("unclaimed port read {:#x}/{}", run.io.port, run.io.size);
            }
        } else if (!pio_.write(run.io.port, data)) {
            SPDLOG_TRACE("unclaimed port write {:#x}/{}", run.io.port, run.io.size);
        }
    }
}

void VcpuRunner::handle_mmio(kvm_run& run) {
    uint32_t length = std::min<uint32_t>(run.mmio.len, sizeof(run.mmio.data));
    std::span<uint8_t> data(run.mmio.data, length);
    if (run.mmio.is_write) {
        if (!mmio_.write(run.mmio.phys_addr, data)) {
            SKIFF_DEBUG_LIMITED("unclaimed MMIO write {:#x}/{}", run.mmio.phys_addr, length);
        }
    } else if (!mmio_.read(run.mmio.phys_addr, data)) {
        SKIFF_DEBUG_LIMITED("unclaimed MMIO read {:#x}/{}", run.mmio.phys_addr, length);
    }
}

}  // namespace skiff
