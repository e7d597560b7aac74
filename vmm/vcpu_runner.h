// One thread per vCPU: KVM_RUN in a loop, port-I/O and MMIO exits dispatched
// to the buses, everything else turned into a VM stop with a reason. Another
// thread can pause it (kicked out of KVM_RUN, parked on a condition
// variable) and resume it; a stop request also ends a parked thread.
#pragma once

#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/vm_lifecycle.h"

#include <pthread.h>

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace skiff {

// What to do when KVM's instruction emulator gives up: return ok when the
// instruction was completed and the vCPU can resume, or an error that names
// the instruction bytes and RIP.
using EmulationFailureHandler = std::function<Result<void>(const VcpuFd&)>;

class VcpuRunner final {
public:
    VcpuRunner(VcpuFd vcpu, const Bus& pio, const Bus& mmio, VmLifecycle& lifecycle,
               EmulationFailureHandler emulation_failure);
    ~VcpuRunner();
    VcpuRunner(const VcpuRunner&) = delete;
    VcpuRunner& operator=(const VcpuRunner&) = delete;

    // Installs the (empty) signal handler used to kick vCPUs out of KVM_RUN.
    static void install_kick_signal();

    // Starts the thread; with `seccomp_filter` it installs the vCPU seccomp
    // filter on itself before its first KVM_RUN.
    void start(bool seccomp_filter);
    // Makes KVM_RUN return at once, now or at its next entry, and wakes a
    // parked thread (to see a stop request).
    void kick();
    void join();

    // Pausing, from any thread. request_pause() kicks the vCPU and returns;
    // wait_until_paused() returns once its thread is out of KVM_RUN and
    // parked, has ended, or was never started (it parks when it starts).
    // pause() is both. resume() lets a parked thread run again. Idempotent.
    void request_pause();
    void wait_until_paused();
    void pause();
    void resume();

    [[nodiscard]] const VcpuFd& vcpu() const { return vcpu_; }

private:
    // Exits handled in skiff (not in KVM), for the debug log at join().
    uint64_t io_exits_ = 0;
    uint64_t mmio_exits_ = 0;
    enum class ThreadState { NotStarted, Running, Parked, Ended };

    void loop();
    void run_until_stopped();
    // After a kick: parks while a pause is requested; false when the VM is
    // stopping.
    bool wait_while_paused();
    // Handles the exit in the run page; false when the VM must stop.
    bool handle_exit();
    void handle_io(kvm_run& run);
    void handle_mmio(kvm_run& run);

    VcpuFd vcpu_;
    const Bus& pio_;
    const Bus& mmio_;
    VmLifecycle& lifecycle_;
    EmulationFailureHandler emulation_failure_;
    std::thread thread_;  // started and joined by the owner's thread only
    bool seccomp_filter_ = false;  // set by start(), before the thread runs

    // What other threads (pause, resume, kick) see of the vCPU thread.
    std::mutex mutex_;
    std::condition_variable changed_;
    ThreadState state_ = ThreadState::NotStarted;
    pthread_t handle_{};  // valid while state_ is Running or Parked
    bool pause_requested_ = false;
};

}  // namespace skiff
