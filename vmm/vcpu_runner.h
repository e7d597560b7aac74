// One thread per vCPU: KVM_RUN in a loop, port-I/O and MMIO exits dispatched
// to the buses, everything else turned into a VM stop with a reason.
#pragma once

#include "vmm/bus.h"
#include "vmm/kvm.h"
#include "vmm/vm_lifecycle.h"

#include <functional>
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

    void start();
    // Makes KVM_RUN return at once, now or at its next entry.
    void kick();
    void join();

    [[nodiscard]] const VcpuFd& vcpu() const { return vcpu_; }

private:
    // Exits handled in skiff (not in KVM), for the debug log at join().
    uint64_t io_exits_ = 0;
    uint64_t mmio_exits_ = 0;
    void loop();
    // Handles the exit in the run page; false when the VM must stop.
    bool handle_exit();
    void handle_io(kvm_run& run);
    void handle_mmio(kvm_run& run);

    VcpuFd vcpu_;
    const Bus& pio_;
    const Bus& mmio_;
    VmLifecycle& lifecycle_;
    EmulationFailureHandler emulation_failure_;
    std::thread thread_;
};

}  // namespace skiff
