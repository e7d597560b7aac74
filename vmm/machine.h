// One microVM: built from a VmConfig (KVM objects, guest memory, devices,
// boot state), then run until the guest or the host ends it. Construction
// and running are separate so a caller can inspect or configure in between.
#pragma once

#include "boot/acpi.h"
#include "devices/io_event_registrar.h"
#include "devices/legacy/boot_doorbell.h"
#include "devices/legacy/i8042.h"
#include "devices/memory_slots.h"
#include "devices/pci/msi_routing.h"
#include "devices/pci/pci_root.h"
#include "devices/vfio/sysfs_binding.h"
#include "devices/virtio/net/virtio_net.h"
#include "devices/legacy/serial_8250.h"
#include "vmm/bus.h"
#include "vmm/console.h"
#include "vmm/cpu_template.h"
#include "vmm/cpuid.h"
#include "vmm/emulation_failure.h"
#include "vmm/event_loop.h"
#include "vmm/guest_memory.h"
#include "vmm/kvm.h"
#include "vmm/timer_fd.h"
#include "vmm/vcpu_runner.h"
#include "vmm/vm_config.h"
#include "vmm/vm_lifecycle.h"
#include "vmm/network_setup.h"
#include "vmm/privileges.h"
#include "skiff/config.h"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace skiff {

class Machine final {
public:
    using Clock = std::chrono::steady_clock;

    // Everything up to, not including, the first KVM_RUN. `default_kernel`
    // is booted when the config names no kernel file.
    // `start` is when the boot was asked for (`start_event`: "skiff
    // started", "InstanceStart"); the boot doorbell is timed from it.
    static Result<std::unique_ptr<Machine>> build(const VmConfig& config, Clock::time_point start,
                                                  std::span<const std::byte> default_kernel = {},
                                                  std::string_view start_event = "skiff started");
    ~Machine();

    // Starts the vCPU threads and runs the event loop (console input,
    // signals, timeout) until the VM stops; joins every thread.
    ExitReport run();

    [[nodiscard]] VmLifecycle& lifecycle() { return lifecycle_; }

    // What skiff needs after set-up when it drops privileges: CAP_NET_ADMIN
    // when it created a macvtap (deleted at the end of run(), on the
    // thread that runs it), nothing otherwise.
    [[nodiscard]] KeptCapability capability_to_keep() const;

    // Packet counters of each virtio-net interface, by interface id.
    [[nodiscard]] std::vector<InterfaceStats> interface_stats() const;
    // New rate limits for interface `id` (absent: unchanged), at run time.
    Result<void> update_rate_limiters(std::string_view id, std::optional<net::RateLimiterConfig> rx,
                                      std::optional<net::RateLimiterConfig> tx);

    // Callable from any thread while run() runs (or before it: the vCPUs
    // then start paused). pause() returns once every vCPU thread is out of
    // KVM_RUN and parked; devices and the event loop keep running, so
    // device state, timers and console input carry on. A stop request ends
    // a paused VM as it does a running one. Pausing a paused VM or resuming
    // a running one does nothing. Errors: the VM is stopping.
    [[nodiscard]] Result<void> pause();
    [[nodiscard]] Result<void> resume();
    [[nodiscard]] bool paused() const { return paused_.load(std::memory_order_acquire); }
    // Time spent paused so far, the current pause included.
    [[nodiscard]] Clock::duration paused_duration() const;

    // Presses Ctrl-Alt-Del on the i8042's keyboard (Firecracker's
    // SendCtrlAltDel): Linux reboots, which ends the VM. Errors: the VM is
    // stopping, or the guest left earlier keystrokes unread.
    [[nodiscard]] Result<void> send_ctrl_alt_del();

    // The console output kept in memory (SerialOutput::Capture), else null.
    // Thread-safe; outlives the Machine if the caller keeps it.
    [[nodiscard]] std::shared_ptr<ConsoleCapture> console_capture() const { return console_.capture(); }
    // Its contents, or empty without capture.
    [[nodiscard]] std::string console_output() const;

private:
    Machine(const VmConfig& config, Kvm kvm, VmFd vm, GuestMemory memory, ConsoleOutput console);
    Result<void> create_devices(Clock::time_point start, std::string_view start_event);
    Result<void> create_network_devices(std::vector<PreparedNetwork> networks,
                                        const std::vector<boot::AcpiMmioDevice>& mmio_devices);
    // The PCI root (its configuration ports and MMIO window) and the MSI
    // routing appear with the first PCI device.
    Result<void> ensure_pci_root();
    Result<void> add_pci_device(std::shared_ptr<pci::PciDevice> device);
    Result<void> add_vfio_device(PreparedNetwork& network);
    Result<void> create_vcpus(const std::vector<kvm_cpuid_entry2>& supported_cpuid);
    void event_loop();
    void watch_console_input();
    void log_resource_usage() const;

    VmConfig config_;
    Kvm kvm_;
    VmFd vm_;
    GuestMemory memory_;
    ConsoleOutput console_;
    // Macvtaps skiff uses, declared before everything that holds the
    // virtio-net devices so they go last (deleting the interfaces skiff made).
    std::vector<std::unique_ptr<net::Macvtap>> macvtaps_;
    // Declared before the buses: the devices on them use these until they
    // are destroyed.
    std::unique_ptr<EventLoop> loop_;
    std::unique_ptr<IoEventRegistrar> io_events_;
    std::shared_ptr<pci::MsiRouting> irq_routing_;
    std::shared_ptr<MemorySlots> memory_slots_;  // VFIO BARs, in KVM slots above guest RAM's
    UniqueFd kvm_vfio_;                          // KVM's VFIO device, with the first VFIO group
    Bus pio_{"port I/O"};
    Bus mmio_{"MMIO"};
    VmLifecycle lifecycle_;
    std::shared_ptr<Serial8250> serial_;
    std::shared_ptr<BootDoorbell> doorbell_;
    std::shared_ptr<I8042> i8042_;
    std::vector<std::unique_ptr<VcpuRunner>> vcpus_;
    bool complete_refused_instructions_ = false;
    SoftExceptionRip soft_exception_rip_ = SoftExceptionRip::AtInstruction;
    CpuTemplate cpu_template_ = CpuTemplate::Host;
    Clock::time_point process_start_;
    std::vector<std::shared_ptr<virtio::VirtioNet>> net_devices_;
    std::shared_ptr<pci::PciRoot> pci_root_;
    std::optional<TimerFd> input_retry_;  // re-arms console input when the guest's FIFO was full
    UniqueFd status_file_;  // /proc/self/status, for log_resource_usage()
    // The MACs skiff gave VFs (mode=vfio, mac=). run() gives the old ones
    // back at its end; declared after everything that holds the VFIO
    // devices, so that a Machine destroyed without running does so before
    // the functions go back to their drivers, as VfioDevice itself does.
    std::vector<vfio::VfMacAssignment> vf_macs_;

    mutable std::mutex pause_mutex_;  // one pause or resume at a time
    std::atomic<bool> paused_{false};
    Clock::time_point paused_since_;
    Clock::duration paused_before_{};  // earlier pauses, added up
};

}  // namespace skiff
