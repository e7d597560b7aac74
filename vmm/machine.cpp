#include "vmm/machine.h"

#include "boot/acpi.h"
#include "boot/cpu_state.h"
#include "boot/kernel_image.h"
#include "boot/layout.h"
#include "boot/loader.h"
#include "boot/mptable.h"
#include "devices/legacy/acpi_sleep.h"
#include "devices/legacy/i8042.h"
#include "vmm/cpu_template.h"
#include "vmm/cpuid.h"
#include "vmm/emulation_failure.h"
#include "vmm/event_loop.h"
#include "vmm/boot_files.h"
#include "vmm/host_quirks.h"
#include "vmm/kvm_interrupt_line.h"
#include "vmm/kvm_io_event_registrar.h"
#include "vmm/kvm_memory_slots.h"
#include "vmm/kvm_vfio.h"
#include "vmm/network_set.h"
#include "devices/pci/pci_config_io.h"
#include "devices/virtio/virtio_mmio.h"
#include "devices/vfio/vfio_pci_device.h"
#include "devices/virtio/virtio_pci.h"
#include "vmm/irq_routing.h"
#include "vmm/seccomp.h"
#include "vmm/stop_signals.h"
#include "vmm/timer_fd.h"
#include "vmm/vcpu_setup.h"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

#include <spdlog/spdlog.h>

namespace skiff {

namespace {

// Bytes of guest memory that are resident on the host (touched by the guest
// or by skiff while loading), to tell skiff's own RSS from the guest's.
uint64_t resident_bytes(const GuestMemory& memory) {
    const uint64_t page = static_cast<uint64_t>(::sysconf(_SC_PAGESIZE));
    uint64_t resident = 0;
    std::vector<unsigned char> flags;
    for (const GuestRegion& region : memory.regions()) {
        flags.resize(region.size / page);
        if (::mincore(region.host, region.size, flags.data()) != 0) {
            continue;
        }
        for (unsigned char flag : flags) {
            resident += (flag & 1) ? page : 0;
        }
    }
    return resident;
}

constexpr uint64_t kMiB = 1024 * 1024;

// Guest RAM below the 32-bit MMIO hole, and the rest above 4 GiB.
std::vector<GuestMemory::RangeSpec> memory_layout(uint64_t memory_bytes) {
    uint64_t low_limit = layout::kMmioHoleStart.value();
    if (memory_bytes <= low_limit) {
        return {{GuestAddress(0), memory_bytes}};
    }
    return {{GuestAddress(0), low_limit}, {layout::kMmioHoleEnd, memory_bytes - low_limit}};
}

// A PCI device (virtio-pci or a VFIO function) makes skiff create the PCI
// bus, which the DSDT must then describe.
bool uses_pci(const std::vector<net::NetConfig>& networks) {
    return std::any_of(networks.begin(), networks.end(), [](const net::NetConfig& network) {
        return network.mode == net::NetMode::Vfio || network.transport == net::NetTransport::Pci;
    });
}

boot::BootProtocol to_boot_protocol(BootProtocolChoice choice) {
    switch (choice) {
        case BootProtocolChoice::Pvh: return boot::BootProtocol::Pvh;
        case BootProtocolChoice::Linux64: return boot::BootProtocol::Linux64;
        case BootProtocolChoice::Auto: break;
    }
    return boot::BootProtocol::Auto;
}

QuirkMode to_quirk_mode(HostQuirkChoice choice) {
    switch (choice) {
        case HostQuirkChoice::On: return QuirkMode::On;
        case HostQuirkChoice::Off: return QuirkMode::Off;
        case HostQuirkChoice::Auto: break;
    }
    return QuirkMode::Auto;
}

}  // namespace

Machine::Machine(const VmConfig& config, Kvm kvm, VmFd vm, GuestMemory memory, ConsoleOutput console)
    : config_(config), kvm_(std::move(kvm)), vm_(std::move(vm)), memory_(std::move(memory)),
      console_(std::move(console)) {}

Machine::~Machine() {
    lifecycle_.request_stop(ExitStatus::GuestShutdown, "machine destroyed");
    for (auto& vcpu : vcpus_) {
        vcpu->kick();
        vcpu->join();
    }
    // Transports on the buses still hold the devices; stop their data
    // paths while the event loop exists.
    for (auto& device : net_devices_) {
        device->reset();
    }
}

Result<std::unique_ptr<Machine>> Machine::build(const VmConfig& config, Clock::time_point process_start,
                                                std::span<const std::byte> default_kernel,
                                                std::string_view start_event) {
    uint64_t memory_bytes = config.memory_mib * kMiB;
    std::vector<std::byte> image_file;
    std::span<const std::byte> image = default_kernel;
    std::string kernel_name = "(embedded test guest)";
    if (!config.kernel_path.empty()) {
        image_file = TRY(read_kernel_file(config.kernel_path, memory_bytes));
        image = image_file;
        kernel_name = config.kernel_path;
    } else if (image.empty()) {
        return Error{"no kernel given: pass --kernel FILE"};
    }
    auto kernel = TRY(boot::inspect_kernel(image).context_error(fmt::format("kernel {}", kernel_name)));
    std::optional<boot::InitrdSource> initrd;
    if (config.initrd_path) {
        initrd = TRY(open_initrd(*config.initrd_path, memory_bytes));
    }

    // What this host needs: detected, or forced with --host-quirks.
    SysfsHostProbe probe;
    HostQuirks quirks = detect_host_quirks(probe, to_quirk_mode(config.host_quirks));
    QuirkPolicy policy(quirks);
    std::string cmdline = config.cmdline;
    std::string additions;
    if (kernel.is_linux) {
        additions = policy.linux_cmdline_additions(cmdline);
        cmdline = policy.linux_cmdline_with_additions(cmdline);  // before any `--`
    }
    CpuTemplate cpu_template = TRY(policy.cpu_template(config.cpu_template.value_or("")));

    // The host side of every network interface, before anything else that
    // could fail late: a missing tap or bridge is a start-up error. The
    // set first, so that nothing is created for a set that cannot work.
    TRY(check_network_set(config.networks));
    std::vector<PreparedNetwork> networks;
    std::vector<boot::AcpiMmioDevice> mmio_devices;
    std::string device_parameters;
    std::string instance = fmt::format("skiff-{}", ::getpid());
    for (const net::NetConfig& net_config : config.networks) {
        auto index = static_cast<unsigned>(networks.size());
        networks.push_back(TRY(prepare_network(net_config, index, instance)));
        if (net_config.transport == net::NetTransport::Mmio) {
            auto slot = static_cast<uint32_t>(mmio_devices.size());
            if (slot >= layout::kVirtioMmioSlots) {
                return Error{fmt::format("too many virtio-mmio devices (at most {}): use transport=pci for some",
                                         layout::kVirtioMmioSlots)};
            }
            boot::AcpiMmioDevice device;
            device.base = layout::kVirtioMmioStart + slot * layout::kVirtioMmioSlotSize;
            device.size = static_cast<uint32_t>(layout::kVirtioMmioSlotSize);
            device.irq = layout::virtio_mmio_irq(slot);
            mmio_devices.push_back(device);
            // Linux without ACPI finds virtio-mmio devices only here; with
            // ACPI, in the DSDT.
            device_parameters += fmt::format("{}{}", device_parameters.empty() ? "" : " ",
                                             virtio::mmio_command_line_word(device.base, device.size, device.irq));
        }
    }
    cmdline = insert_kernel_parameters(cmdline, device_parameters);
    if (quirks.kernel_mode_emulated) {
        spdlog::info("host quirks: {}", policy.summary(cpu_template, additions));
    }

    // Guest memory, firmware tables and the kernel first: a bad image or one
    // that does not fit is reported before /dev/kvm is even opened.
    auto memory = TRY(GuestMemory::create(memory_layout(memory_bytes)));
    // The MP table fits in the EBDA for up to mp_table_max_cpus() vCPUs;
    // beyond that the ACPI MADT alone describes them.
    if (config.cpu_count <= boot::mp_table_max_cpus()) {
        TRY(boot::write_mp_table(memory, config.cpu_count));
    }
    boot::AcpiConfig acpi{};
    acpi.cpu_count = config.cpu_count;
    acpi.virtio_mmio_devices = mmio_devices;
    acpi.ps2_keyboard = true;
    acpi.com1 = true;
    acpi.sleep_registers = boot::AcpiSleepRegisters{.control_port = layout::kAcpiSleepControlPort,
                                                    .status_port = layout::kAcpiSleepStatusPort,
                                                    .soft_off_type = AcpiSleep::kSoftOffType};
    if (uses_pci(config.networks)) {
        const pci::MmioWindow window;
        acpi.pci_host_bridge = boot::AcpiPciHostBridge{.config_port = pci::kConfigAddressPort,
                                                       .config_port_count = pci::kConfigPortCount,
                                                       .window = GuestAddress(window.start),
                                                       .window_size = static_cast<uint32_t>(window.size)};
    }
    GuestAddress rsdp = TRY(boot::write_acpi_tables(memory, acpi));
    boot::BootOptions options{};
    options.cmdline = cmdline;
    options.initrd = std::move(initrd);
    options.cpu_count = config.cpu_count;
    options.protocol = to_boot_protocol(config.boot_protocol);
    options.rsdp = rsdp;
    auto setup = TRY(boot::load_kernel(memory, image, kernel, options)
                         .context_error(fmt::format("loading kernel {}", kernel_name)));
    TRY(boot::write_boot_structures(memory));
    auto console = TRY(ConsoleOutput::open(config.serial));

    auto kvm = TRY(Kvm::open());
    auto vm = TRY(VmFd::create(kvm));
    TRY(vm.map_guest_memory(memory));
    std::unique_ptr<Machine> machine(
        new Machine(config, std::move(kvm), std::move(vm), std::move(memory), std::move(console)));
    machine->complete_refused_instructions_ = quirks.kernel_mode_emulated;
    machine->soft_exception_rip_ = probe.module_loaded("kvm_pvm") ? SoftExceptionRip::PastInstruction
                                                                  : SoftExceptionRip::AtInstruction;
    machine->cpu_template_ = cpu_template;
    machine->process_start_ = process_start;
    machine->loop_ = TRY(EventLoop::create());
    // Opened now: after a --chroot there is no /proc, and once the event
    // loop's seccomp filter is on it may read but not open files
    // (log_resource_usage at the end).
    machine->status_file_.reset(::open("/proc/self/status", O_RDONLY | O_CLOEXEC));
    TRY(machine->create_devices(process_start, start_event));
    TRY(machine->create_network_devices(std::move(networks), mmio_devices));

    auto supported = TRY(machine->kvm_.supported_cpuid());
    TRY(machine->create_vcpus(supported));
    kvm_regs registers{};
    kvm_sregs special = TRY(machine->vcpus_.front()->vcpu().special_registers());
    boot::initial_registers(setup, registers, special);
    TRY(machine->vcpus_.front()->vcpu().set_special_registers(special));
    TRY(machine->vcpus_.front()->vcpu().set_registers(registers));

    spdlog::info("microVM: {} vCPU(s), {} MiB, kernel {} ({}), CPU template {}, cmdline \"{}\"",
                 config.cpu_count, config.memory_mib, kernel_name, boot::describe(setup),
                 cpu_template_name(cpu_template), cmdline);
    return machine;
}

Result<void> Machine::create_devices(Clock::time_point start, std::string_view start_event) {
    io_events_ = std::make_unique<KvmIoEventRegistrar>(vm_);
    auto serial_line = std::make_shared<KvmInterruptLine>(vm_, layout::kCom1Irq);
    serial_ = std::make_shared<Serial8250>(
        serial_line, [this](std::span<const uint8_t> bytes) { console_.write(bytes); });
    TRY(pio_.insert(serial_, layout::kCom1Port, 8));

    auto keyboard_line = std::make_shared<KvmInterruptLine>(vm_, layout::kI8042KeyboardIrq);
    auto aux_line = std::make_shared<KvmInterruptLine>(vm_, layout::kI8042AuxIrq);
    i8042_ = std::make_shared<I8042>(
        [this] { lifecycle_.request_stop(ExitStatus::GuestShutdown, "guest reset through the i8042"); },
        keyboard_line, aux_line);
    TRY(pio_.insert(i8042_, layout::kI8042DataPort, I8042::kPortSpan));

    static_assert(layout::kAcpiSleepStatusPort == layout::kAcpiSleepControlPort + AcpiSleep::kStatusOffset);
    TRY(pio_.insert(std::make_shared<AcpiSleep>([this] {
                        lifecycle_.request_stop(ExitStatus::GuestShutdown, "guest powered off through ACPI");
                    }),
                    layout::kAcpiSleepControlPort, AcpiSleep::kPortSpan));

    doorbell_ = std::make_shared<BootDoorbell>(start, nullptr, std::string(start_event));
    TRY(mmio_.insert(doorbell_, layout::kBootDoorbell.value(), layout::kBootDoorbellSize));
    return {};
}

Result<void> Machine::create_network_devices(std::vector<PreparedNetwork> networks,
                                             const std::vector<boot::AcpiMmioDevice>& mmio_devices) {
    size_t mmio_slot = 0;
    for (PreparedNetwork& network : networks) {
        if (network.vfio) {
            TRY(add_vfio_device(network));
            continue;
        }
        virtio::VirtioNetOptions options;
        options.name = network.name;
        options.mac = network.mac.bytes;
        options.mtu = network.mtu;
        options.rx_rate_limiter = network.config.rx_rate_limiter;
        options.tx_rate_limiter = network.config.tx_rate_limiter;
        auto device = std::make_shared<virtio::VirtioNet>(std::move(options), std::move(network.tap), *loop_,
                                                           std::move(network.vhost),
                                                           std::move(network.kernel_counters));
        net_devices_.push_back(device);
        if (network.macvtap) {
            macvtaps_.push_back(std::move(network.macvtap));
        }
        switch (network.config.transport) {
            case net::NetTransport::Mmio: {
                const boot::AcpiMmioDevice& place = mmio_devices.at(mmio_slot++);
                auto transport = TRY(virtio::VirtioMmio::create(device, memory_, place.base, io_events_.get()));
                TRY(mmio_.insert(transport, place.base.value(), place.size));
                TRY(vm_.register_irqfd(transport->interrupt_fd(), place.irq));
                spdlog::debug("{}: virtio-mmio at {:#x}, IRQ {}", device->name(), place.base.value(), place.irq);
                break;
            }
            case net::NetTransport::Pci: {
                TRY(ensure_pci_root());
                auto transport = TRY(virtio::VirtioPci::create(device, memory_, irq_routing_, io_events_.get()));
                TRY(add_pci_device(transport));
                break;
            }
        }
    }
    return {};
}

std::vector<InterfaceStats> Machine::interface_stats() const {
    std::vector<InterfaceStats> stats;
    for (const auto& device : net_devices_) {
        net::NetCounterValues counters = device->counter_values();
        InterfaceStats entry;
        entry.iface_id = std::string(device->name());
        entry.rx_packets = counters.rx_packets;
        entry.rx_bytes = counters.rx_bytes;
        entry.rx_dropped = counters.rx_dropped;
        entry.rx_throttled = counters.rx_throttled;
        entry.tx_packets = counters.tx_packets;
        entry.tx_bytes = counters.tx_bytes;
        entry.tx_dropped = counters.tx_dropped;
        entry.tx_throttled = counters.tx_throttled;
        stats.push_back(std::move(entry));
    }
    return stats;
}

Result<void> Machine::update_rate_limiters(std::string_view id, std::optional<net::RateLimiterConfig> rx,
                                           std::optional<net::RateLimiterConfig> tx) {
    for (const auto& device : net_devices_) {
        if (device->name() == id) {
            return device->update_rate_limiters(std::move(rx), std::move(tx)).context_error(id);
        }
    }
    return Error::format("no virtio-net interface '{}' (a vfio interface has no rate limiter)", id);
}

Result<void> Machine::ensure_pci_root() {
    if (pci_root_) {
        return {};
    }
    // The PCI host bridge appears with the first PCI device: a VM without
    // one has no PCI bus for its kernel to scan.
    pci_root_ = std::make_shared<pci::PciRoot>();
    irq_routing_ = std::make_shared<KvmIrqRouting>(vm_);
    TRY(pio_.insert(std::make_shared<pci::PciConfigIo>(pci_root_), pci::kConfigAddressPort, pci::kConfigPortCount));
    TRY(mmio_.insert(std::make_shared<pci::PciMmioWindow>(pci_root_), pci_root_->window().start,
                     pci_root_->window().size));
    return {};
}

Result<void> Machine::add_pci_device(std::shared_ptr<pci::PciDevice> device) {
    TRY(ensure_pci_root());
    TRY(pci_root_->add_device(device));  // logs the slot
    return {};
}

Result<void> Machine::add_vfio_device(PreparedNetwork& network) {
    TRY(ensure_pci_root());
    if (!memory_slots_) {
        memory_slots_ = std::make_shared<KvmMemorySlots>(vm_, static_cast<uint32_t>(memory_.regions().size()));
    }
    // KVM learns of the group (non-coherent DMA, and what some IOMMUs need);
    // the device works without it.
    auto added = add_vfio_group_to_kvm(vm_, kvm_vfio_, network.vfio->group_fd());
    if (added.ok()) {
        // kvm_vfio_ outlives the PCI devices (declared before the buses).
        network.vfio->before_release([kvm_vfio = kvm_vfio_.get(), group_fd = network.vfio->group_fd()] {
            remove_vfio_group_from_kvm(kvm_vfio, group_fd);
        });
    } else {
        spdlog::warn("{}: {}", network.name, added.error().message);
    }
    if (vfio::VfMacAssignment vf_mac = network.vfio->take_vf_mac(); vf_mac.pending()) {
        vf_macs_.push_back(std::move(vf_mac));
    }
    std::string name = fmt::format("vfio {} ({})", network.name, network.vfio->address());
    auto device = TRY(vfio::VfioPciDevice::create(std::move(network.vfio), memory_, irq_routing_, memory_slots_, name));
    return add_pci_device(device);
}

Result<void> Machine::create_vcpus(const std::vector<kvm_cpuid_entry2>& supported_cpuid) {
    CpuidTable supported(supported_cpuid);
    TRY(apply_template(supported, cpu_template_));
    for (uint32_t index = 0; index < config_.cpu_count; ++index) {
        auto vcpu = TRY(VcpuFd::create(kvm_, vm_, index));
        CpuidFilterOptions options{};
        options.tsc_deadline_timer = kvm_.check_extension(KVM_CAP_TSC_DEADLINE_TIMER) > 0;
        CpuidTable table = filter_for_vcpu(supported, options, index, config_.cpu_count);
        TRY(vcpu.set_cpuid(table.entries()).context_error("setting CPUID"));
        TRY(setup_vcpu_msrs(vcpu));
        TRY(setup_vcpu_fpu(vcpu));
        TRY(setup_vcpu_lapic(vcpu));
        EmulationFailureHandler handler;
        if (complete_refused_instructions_) {
            handler = [this](const VcpuFd& failed) {
                return complete_refused_instruction(failed, memory_, soft_exception_rip_);
            };
        } else {
            handler = [this](const VcpuFd& failed) { return describe_emulation_failure(failed, memory_); };
        }
        vcpus_.push_back(std::make_unique<VcpuRunner>(std::move(vcpu), pio_, mmio_, lifecycle_, handler));
    }
    return {};
}

ExitReport Machine::run() {
    ::pthread_setname_np(::pthread_self(), "skiff-vmm");
    VcpuRunner::install_kick_signal();
    auto since_start = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - process_start_);
    spdlog::debug("first KVM_RUN: {}.{:03} ms after skiff started", since_start.count() / 1000,
                  since_start.count() % 1000);
    for (auto& vcpu : vcpus_) {
        VcpuRunner* runner = vcpu.get();
        lifecycle_.on_stop([runner] { runner->kick(); });
    }
    console_.begin();  // a console file is emptied only now that start-up succeeded
    for (auto& vcpu : vcpus_) {
        vcpu->start(config_.seccomp);
    }
    event_loop();
    for (auto& vcpu : vcpus_) {
        vcpu->kick();
        vcpu->join();
    }
    // The macvtaps skiff created go now, and VFs get their old MACs back,
    // from this thread: after --uid it is one that kept CAP_NET_ADMIN for
    // this (vmm/privileges.h). The macvtaps' /dev/tapN fds, still open in
    // the devices, just stop carrying frames; the VFs' guest is stopped.
    macvtaps_.clear();
    vf_macs_.clear();
    log_resource_usage();
    return lifecycle_.report();
}

KeptCapability Machine::capability_to_keep() const {
    bool created = std::any_of(macvtaps_.begin(), macvtaps_.end(),
                               [](const std::unique_ptr<net::Macvtap>& macvtap) { return macvtap->created(); });
    return created || !vf_macs_.empty() ? KeptCapability::NetAdmin : KeptCapability::None;
}

Result<void> Machine::pause() {
    std::lock_guard lock(pause_mutex_);
    if (lifecycle_.stopping()) {
        return Error{"cannot pause: the VM is stopping"};
    }
    if (paused_) {
        return {};
    }
    // All kicked first, then all waited for: the vCPUs leave KVM_RUN together.
    for (auto& vcpu : vcpus_) {
        vcpu->request_pause();
    }
    for (auto& vcpu : vcpus_) {
        vcpu->wait_until_paused();
    }
    paused_since_ = Clock::now();
    paused_.store(true, std::memory_order_release);
    spdlog::info("VM paused");
    return {};
}

Result<void> Machine::resume() {
    std::lock_guard lock(pause_mutex_);
    if (lifecycle_.stopping()) {
        return Error{"cannot resume: the VM is stopping"};
    }
    if (!paused_) {
        return {};
    }
    for (auto& vcpu : vcpus_) {
        vcpu->resume();
    }
    paused_before_ += Clock::now() - paused_since_;
    paused_.store(false, std::memory_order_release);
    spdlog::info("VM resumed");
    return {};
}

Machine::Clock::duration Machine::paused_duration() const {
    std::lock_guard lock(pause_mutex_);
    return paused_ ? paused_before_ + (Clock::now() - paused_since_) : paused_before_;
}

Result<void> Machine::send_ctrl_alt_del() {
    if (lifecycle_.stopping()) {
        return Error{"cannot send Ctrl-Alt-Del: the VM is stopping"};
    }
    if (!i8042_->press_ctrl_alt_del()) {
        return Error{"Ctrl-Alt-Del not sent: the guest has not read the keyboard's earlier bytes (i8042 buffer full)"};
    }
    spdlog::info("Ctrl-Alt-Del sent to the guest");
    return {};
}

std::string Machine::console_output() const {
    const auto& capture = console_.capture();
    return capture ? capture->contents() : std::string();
}

void Machine::log_resource_usage() const {
    // From /proc/self/status rather than getrusage(): ru_maxrss carries the
    // peak of the process image before exec (a large parent that forked
    // skiff), VmHWM is this image's own peak. RssAnon and RssFile split the
    // current RSS into skiff's own memory and shared libraries. Read through
    // an fd opened at build time: after --chroot there is no /proc.
    std::string peak = "?";
    std::string split;
    std::string contents(8192, '\0');
    ssize_t got = status_file_.valid() ? ::pread(status_file_.get(), contents.data(), contents.size(), 0) : -1;
    contents.resize(got > 0 ? static_cast<size_t>(got) : 0);
    auto value = [](std::string_view line, std::string_view prefix) {
        std::string_view field = line.substr(prefix.size());
        size_t first = field.find_first_not_of(" \t");
        size_t unit = field.find(" kB");
        return first == std::string_view::npos ? std::string("?") : std::string(field.substr(first, unit - first));
    };
    std::string_view remaining(contents);
    while (!remaining.empty()) {
        size_t line_end = remaining.find('\n');
        std::string_view line = remaining.substr(0, line_end);
        remaining = line_end == std::string_view::npos ? std::string_view() : remaining.substr(line_end + 1);
        if (line.starts_with("VmHWM:")) {
            peak = value(line, "VmHWM:");
        } else if (line.starts_with("RssAnon:")) {
            split += fmt::format(", anonymous {} KiB", value(line, "RssAnon:"));
        } else if (line.starts_with("RssFile:")) {
            split += fmt::format(", file-backed {} KiB", value(line, "RssFile:"));
        }
    }
    spdlog::debug("resource usage: peak RSS {} KiB, guest memory resident {} KiB{}", peak,
                  resident_bytes(memory_) / 1024, split);
}

void Machine::watch_console_input() {
    auto added = loop_->add(STDIN_FILENO, EPOLLIN, [this](uint32_t) {
        uint8_t buffer[256];
        size_t room = std::min(sizeof(buffer), serial_->input_space());
        if (room == 0) {
            // The guest is not reading: stop watching stdin for a while
            // rather than buffer (or spin on a readable fd).
            loop_->remove(STDIN_FILENO);
            auto created = TimerFd::create();
            Result<void> retry = created.ok() ? Result<void>{} : Result<void>(created.error());
            if (created.ok()) {
                input_retry_.emplace(std::move(created).value());
                input_retry_->arm(std::chrono::milliseconds(10));
                retry = loop_->add(input_retry_->fd(), EPOLLIN, [this](uint32_t) {
                    loop_->remove(input_retry_->fd());
                    input_retry_.reset();
                    watch_console_input();
                });
            }
            if (!retry.ok()) {
                spdlog::warn("console input: {}", retry.error().message);
            }
            return;
        }
        ssize_t got = ::read(STDIN_FILENO, buffer, room);
        if (got <= 0) {
            loop_->remove(STDIN_FILENO);  // end of input
            return;
        }
        serial_->enqueue_input(std::span<const uint8_t>(buffer, static_cast<size_t>(got)));
    });
    // Fails for /dev/null (not pollable): no console input then.
    (void)added;
}

void Machine::event_loop() {
    // The stop signals arrive through a signalfd; they are blocked in this
    // and (by inheritance) every vCPU thread (vmm/stop_signals.h).
    UniqueFd signal_fd(::signalfd(-1, &stop_signals::set(), SFD_CLOEXEC | SFD_NONBLOCK));
    std::optional<TimerFd> timer;
    auto watched = loop_->add(lifecycle_.event_fd(), EPOLLIN, [](uint32_t) {});
    if (watched.ok() && signal_fd.valid()) {
        int fd = signal_fd.get();
        watched = loop_->add(fd, EPOLLIN, [this, fd](uint32_t) {
            signalfd_siginfo info{};
            if (::read(fd, &info, sizeof(info)) == sizeof(info)) {
                stop_signals::note(static_cast<int>(info.ssi_signo));
                lifecycle_.request_stop(ExitStatus::GuestShutdown, fmt::format("stopped by signal {}", info.ssi_signo));
            }
        });
    }
    if (watched.ok() && config_.timeout_seconds) {
        // --timeout counts the time the VM runs: time spent paused moves
        // the deadline on (the timer re-arms for what is left).
        const double limit = *config_.timeout_seconds;
        const auto limit_duration = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(limit));
        const Clock::time_point started = Clock::now();
        auto created = TimerFd::create();
        if (created.ok()) {
            timer.emplace(std::move(created).value());
            timer->arm(limit_duration);
            watched = loop_->add(timer->fd(), EPOLLIN, [this, &timer, limit, limit_duration, started](uint32_t) {
                timer->consume();
                Clock::duration left = limit_duration - (Clock::now() - started - paused_duration());
                if (left > std::chrono::milliseconds(1)) {
                    timer->arm(left);
                    return;
                }
                lifecycle_.request_stop(ExitStatus::Timeout, fmt::format("timeout after {} s", limit));
            });
        } else {
            watched = created.error();
        }
    }
    if (!watched.ok()) {
        lifecycle_.request_stop(ExitStatus::StartupError, watched.error().message);
        return;
    }
    std::optional<TerminalMode> terminal;
    if (config_.serial.output == SerialOutput::Stdio) {
        terminal.emplace(STDIN_FILENO);
        watch_console_input();
    }
    // Set up: the vCPU threads exist (they filter themselves), and so do
    // this loop's fds.
    if (config_.seccomp) {
        if (auto installed = seccomp::install_filter(seccomp::ThreadKind::EventLoop); !installed.ok()) {
            lifecycle_.request_stop(ExitStatus::StartupError, installed.error().message);
        }
    }

    while (!lifecycle_.stopping()) {
        auto status = loop_->run_once(-1);
        if (!status.ok()) {
            lifecycle_.request_stop(ExitStatus::KvmError, status.error().message);
            break;
        }
    }
    loop_->remove(STDIN_FILENO);
    loop_->remove(lifecycle_.event_fd());
    if (signal_fd.valid()) {
        loop_->remove(signal_fd.get());
    }
    if (timer) {
        loop_->remove(timer->fd());
    }
}

}  // namespace skiff
