#include "vmm/vm_instance.h"

#include "vmm/api/network_interface.h"
#include "vmm/cpu_template.h"
#include "vmm/logging.h"
#include "vmm/network_set.h"
#include "vmm/parent_directory.h"
#include "vmm/privileges.h"
#include "vmm/seccomp.h"

#include <fcntl.h>
#include <pthread.h>
#include <algorithm>
#include <cstring>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

namespace skiff {

namespace {

constexpr auto kMetricsPeriod = std::chrono::seconds(60);

Status failure(const Error& error) { return Status::failure(error.message); }

ExitInfo to_exit_info(const ExitReport& report) {
    return ExitInfo{static_cast<int>(report.status), report.message};
}

uint64_t utc_milliseconds() {
    return static_cast<uint64_t>(
        std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
            .count());
}

}  // namespace

VmInstance::VmInstance(VmInstanceOptions options) : options_(std::move(options)) {
    if (!options_.require_boot_source) {
        resources_.boot_source = BootSource{};
    }
}

VmInstance::~VmInstance() {
    stop("the VMM is shutting down");
    wait();
    std::lock_guard lock(mutex_);
    if (metrics_file_ != nullptr) {
        std::fclose(metrics_file_);
        metrics_file_ = nullptr;
    }
}

std::string VmInstance::id() const { return options_.id; }

VmState VmInstance::state() const {
    std::lock_guard lock(mutex_);
    return current_state();
}

VmState VmInstance::current_state() const {
    if (state_ == VmState::Running && machine_->paused()) {
        return VmState::Paused;
    }
    return state_;
}

VmResources VmInstance::resources() const {
    std::lock_guard lock(mutex_);
    return resources_;
}

Status VmInstance::require_not_started(std::string_view what) const {
    if (state_ != VmState::NotStarted || starting_) {
        return Status::failure(fmt::format("{} is only possible before the microVM starts (it is {})", what,
                                           vm_state_name(current_state())));
    }
    return {};
}

Status VmInstance::require_started(std::string_view what) const {
    if (state_ == VmState::NotStarted) {
        return Status::failure(fmt::format("{} needs a running microVM: start it first (InstanceStart)", what));
    }
    if (state_ == VmState::Stopped) {
        return Status::failure(fmt::format("{}: the microVM has stopped ({})", what,
                                           exit_ ? exit_->reason : "no reason recorded"));
    }
    return {};
}

Status VmInstance::set_boot_source(const BootSource& source) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Setting the boot source"); !refused) {
        return refused;
    }
    if (source.boot_args && source.boot_args->size() > kMaxCmdlineBytes) {
        return Status::failure(fmt::format("boot_args is {} bytes; skiff passes at most {}", source.boot_args->size(),
                                           kMaxCmdlineBytes));
    }
    resources_.boot_source = source;
    return {};
}

Status VmInstance::set_machine_config(const MachineConfig& config) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Changing the machine configuration"); !refused) {
        return refused;
    }
    if (config.vcpu_count < 1 || config.vcpu_count > kMaxCpus) {
        return Status::failure(fmt::format("vcpu_count {} is out of range: 1..{}", config.vcpu_count, kMaxCpus));
    }
    if (config.mem_size_mib < kMinMemoryMib || config.mem_size_mib > kMaxMemoryMib) {
        return Status::failure(fmt::format("mem_size_mib {} is out of range: {}..{}", config.mem_size_mib,
                                           kMinMemoryMib, kMaxMemoryMib));
    }
    // "None" is Firecracker's no template; its own names (T2, C3, ...) are
    // refused now rather than by InstanceStart.
    if (config.cpu_template && *config.cpu_template != "None") {
        if (auto known = parse_cpu_template(*config.cpu_template); !known.ok()) {
            return Status::failure(fmt::format("cpu_template: {} (or \"None\")", known.error().message));
        }
    }
    if (config.track_dirty_pages) {
        return Status::failure("track_dirty_pages: skiff does not track dirty pages (no snapshots): set it to false");
    }
    resources_.machine_config = config;
    return {};
}

Status VmInstance::set_network_interface(const NetworkInterface& interface) {
    // Checked now, so that a bad interface is refused by its own PUT rather
    // than by InstanceStart.
    auto checked = api::to_net_config(interface);
    if (!checked.ok()) {
        return failure(checked.error());
    }
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Adding a network interface"); !refused) {
        return refused;
    }
    auto& interfaces = resources_.network_interfaces;
    auto same = std::find_if(interfaces.begin(), interfaces.end(),
                             [&](const NetworkInterface& existing) { return existing.iface_id == interface.iface_id; });
    // The set as this PUT would make it: a second interface on one tap,
    // fd or MAC is refused now, not at InstanceStart.
    std::vector<net::NetConfig> set;
    for (const NetworkInterface& existing : interfaces) {
        auto config = existing.iface_id == interface.iface_id ? checked : api::to_net_config(existing);
        if (!config.ok()) {
            return failure(config.error());
        }
        set.push_back(*config);
    }
    if (same == interfaces.end()) {
        set.push_back(*checked);
    }
    if (auto whole = check_network_set(set); !whole.ok()) {
        return failure(whole.error());
    }
    if (same != interfaces.end()) {
        *same = interface;
    } else {
        interfaces.push_back(interface);
    }
    return {};
}

Status VmInstance::set_logger(const LoggerConfig& logger) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Configuring the logger"); !refused) {
        return refused;
    }
    auto configured = configure_logger(logger);
    if (!configured.ok()) {
        return failure(configured.error());
    }
    resources_.logger = logger;
    return {};
}

Status VmInstance::set_metrics(const MetricsConfig& metrics) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Configuring metrics"); !refused) {
        return refused;
    }
    if (metrics_file_ != nullptr) {
        return Status::failure("metrics are already configured (to " +
                               (resources_.metrics ? resources_.metrics->metrics_path : std::string("?")) + ")");
    }
    if (auto directory = require_parent_directory(metrics.metrics_path); !directory.ok()) {
        return failure(directory.error().context(fmt::format("metrics_path {}", metrics.metrics_path)));
    }
    // O_NONBLOCK: a named pipe nobody reads yet must not block the API.
    int fd = ::open(metrics.metrics_path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK, 0644);
    if (fd < 0) {
        return failure(errno_error(fmt::format("metrics_path {}: cannot open it for writing", metrics.metrics_path)));
    }
    metrics_file_ = ::fdopen(fd, "a");
    if (metrics_file_ == nullptr) {
        ::close(fd);
        return failure(errno_error("metrics: fdopen"));
    }
    resources_.metrics = metrics;
    return {};
}

Status VmInstance::set_console(const SerialConfig& serial) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Setting the console"); !refused) {
        return refused;
    }
    options_.base.serial = serial;
    return {};
}

Status VmInstance::set_timeout(double seconds) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_not_started("Setting a timeout"); !refused) {
        return refused;
    }
    if (!(seconds > 0) || seconds > kMaxTimeoutSeconds) {
        return Status::failure(
            fmt::format("the timeout must be above 0 and at most {:.0f} seconds", kMaxTimeoutSeconds));
    }
    options_.base.timeout_seconds = seconds;
    return {};
}

Result<VmConfig> VmInstance::config_from_resources() const {
    VmConfig config = options_.base;
    if (!resources_.boot_source) {
        return Error{"no boot source: PUT /boot-source with a kernel_image_path before InstanceStart"};
    }
    const BootSource& boot = *resources_.boot_source;
    config.kernel_path = boot.kernel_image_path;
    if (boot.boot_args) {
        config.cmdline = *boot.boot_args;
    }
    config.initrd_path = boot.initrd_path;
    config.cpu_count = resources_.machine_config.vcpu_count;
    config.memory_mib = resources_.machine_config.mem_size_mib;
    // Firecracker's "None": no template, the host's CPU (filtered); skiff
    // then picks what the host needs, as without --cpu-template.
    const auto& cpu_template = resources_.machine_config.cpu_template;
    if (cpu_template && *cpu_template != "None") {
        config.cpu_template = *cpu_template;
    }
    config.networks.clear();
    for (const NetworkInterface& interface : resources_.network_interfaces) {
        config.networks.push_back(TRY(api::to_net_config(interface)));
    }
    return config;
}

Status VmInstance::start() {
    auto requested = Machine::Clock::now();
    Result<VmConfig> config = Error{""};
    {
        std::lock_guard lock(mutex_);
        if (auto refused = require_not_started("InstanceStart"); !refused) {
            return refused;
        }
        config = config_from_resources();
    }
    if (!config.ok()) {
        return failure(config.error());
    }
    return launch(*config, requested);
}

Status VmInstance::start_with(const VmConfig& config) { return launch(config, options_.process_start); }

Status VmInstance::launch(const VmConfig& config, Machine::Clock::time_point requested) {
    {
        std::lock_guard lock(mutex_);
        if (auto refused = require_not_started("Starting"); !refused) {
            return refused;
        }
        starting_ = true;  // the build below runs unlocked: no second start meanwhile
    }
    std::string_view reference = requested == options_.process_start ? "skiff started" : "InstanceStart";
    auto built = Machine::build(config, requested, options_.default_kernel, reference);
    std::lock_guard lock(mutex_);
    starting_ = false;
    if (!built.ok()) {
        return failure(built.error());
    }
    // Everything is open: from here on skiff runs as --uid/--gid in --chroot.
    if (auto dropped = drop_privileges(config.privileges, built.value()->capability_to_keep()); !dropped) {
        return fail_start(dropped.error());
    }
    machine_ = std::move(built.value());
    // Privileges were dropped above (--uid/--gid/--chroot), before any
    // filter: glibc's setuid() signals every thread to make its own call.
    //
    // From here on, each thread skiff starts installs its seccomp filter
    // once set up (vmm/seccomp.h); the API thread does at its next callback.
    seccomp::arm(config.seccomp);
    state_ = VmState::Running;
    Machine* machine = machine_.get();
    runner_ = std::thread([this, machine] { on_stopped(machine->run()); });
    if (metrics_file_ != nullptr) {
        metrics_thread_ = std::thread([this, seccomp = config.seccomp] {
            ::pthread_setname_np(::pthread_self(), "skiff-metrics");
            if (seccomp) {
                if (auto installed = seccomp::install_filter(seccomp::ThreadKind::Api); !installed.ok()) {
                    std::lock_guard stopping(mutex_);
                    machine_->lifecycle().request_stop(ExitStatus::StartupError,
                                                       fmt::format("metrics: {}", installed.error().message));
                    return;
                }
            }
            metrics_loop();
        });
    }
    changed_.notify_all();
    return {};
}

Status VmInstance::fail_start(const Error& error) {
    // Half-dropped privileges (a chroot without the uid change, ...) leave
    // no state to start from again: the instance ends.
    exit_ = ExitInfo{static_cast<int>(ExitStatus::StartupError), error.message};
    state_ = VmState::Stopped;
    changed_.notify_all();
    return failure(error);
}

void VmInstance::on_stopped(ExitReport report) {
    if (report.status == ExitStatus::GuestShutdown) {
        spdlog::info("{}", report.message);
    } else {
        spdlog::error("{}: {}", describe(report.status), report.message);
    }
    std::lock_guard lock(mutex_);
    exit_ = to_exit_info(report);
    state_ = VmState::Stopped;
    changed_.notify_all();
}

Status VmInstance::pause() {
    std::lock_guard lock(mutex_);
    if (auto refused = require_started("Pausing"); !refused) {
        return refused;
    }
    auto paused = machine_->pause();
    if (!paused.ok()) {
        return failure(paused.error());
    }
    return {};
}

Status VmInstance::resume() {
    std::lock_guard lock(mutex_);
    if (auto refused = require_started("Resuming"); !refused) {
        return refused;
    }
    auto resumed = machine_->resume();
    if (!resumed.ok()) {
        return failure(resumed.error());
    }
    return {};
}

Status VmInstance::send_ctrl_alt_del() {
    std::lock_guard lock(mutex_);
    if (auto refused = require_started("SendCtrlAltDel"); !refused) {
        return refused;
    }
    auto sent = machine_->send_ctrl_alt_del();
    if (!sent.ok()) {
        return failure(sent.error());
    }
    return {};
}

Status VmInstance::update_network_interface(const NetworkInterfaceUpdate& update) {
    std::lock_guard lock(mutex_);
    if (auto refused = require_started("Updating a network interface"); !refused) {
        return refused;
    }
    auto found = std::find_if(resources_.network_interfaces.begin(), resources_.network_interfaces.end(),
                              [&](const NetworkInterface& interface) { return interface.iface_id == update.iface_id; });
    if (found == resources_.network_interfaces.end()) {
        return Status::failure(fmt::format("no network interface '{}': PATCH names an interface given before start",
                                           update.iface_id));
    }
    std::optional<net::RateLimiterConfig> rx;
    std::optional<net::RateLimiterConfig> tx;
    if (update.rx_rate_limiter) {
        rx = api::to_rate_limiter_config(*update.rx_rate_limiter);
    }
    if (update.tx_rate_limiter) {
        tx = api::to_rate_limiter_config(*update.tx_rate_limiter);
    }
    auto updated = machine_->update_rate_limiters(update.iface_id, rx, tx);
    if (!updated.ok()) {
        return failure(updated.error());
    }
    if (update.rx_rate_limiter) {
        found->rx_rate_limiter = update.rx_rate_limiter;
    }
    if (update.tx_rate_limiter) {
        found->tx_rate_limiter = update.tx_rate_limiter;
    }
    return {};
}

std::vector<InterfaceStats> VmInstance::interface_stats() const {
    std::lock_guard lock(mutex_);
    if (!machine_) {
        return {};
    }
    return machine_->interface_stats();
}

std::string VmInstance::console_output() const {
    std::lock_guard lock(mutex_);
    if (!machine_) {
        return {};
    }
    return machine_->console_output();
}

Status VmInstance::flush_metrics() {
    std::lock_guard lock(mutex_);
    if (metrics_file_ == nullptr) {
        return Status::failure("FlushMetrics: metrics are not configured: PUT /metrics with a metrics_path first");
    }
    write_metrics_line();
    return {};
}

// One JSON object per line, Firecracker's names where it has them:
// {"utc_timestamp_ms":..,"vmm":{"state":..},"net":{totals},"net_<iface_id>":{..}}.
void VmInstance::write_metrics_line() {
    nlohmann::json line;
    line["utc_timestamp_ms"] = utc_milliseconds();
    line["vmm"] = {{"state", vm_state_name(current_state())}, {"id", options_.id}};
    std::vector<InterfaceStats> stats = machine_ ? machine_->interface_stats() : std::vector<InterfaceStats>{};
    auto to_json = [](const InterfaceStats& s) {
        return nlohmann::json{{"rx_packets_count", s.rx_packets},     {"rx_bytes_count", s.rx_bytes},
                              {"rx_dropped", s.rx_dropped},           {"rx_rate_limiter_throttled", s.rx_throttled},
                              {"tx_packets_count", s.tx_packets},     {"tx_bytes_count", s.tx_bytes},
                              {"tx_dropped", s.tx_dropped},           {"tx_rate_limiter_throttled", s.tx_throttled}};
    };
    InterfaceStats total;
    for (const InterfaceStats& s : stats) {
        line["net_" + s.iface_id] = to_json(s);
        total.rx_packets += s.rx_packets;
        total.rx_bytes += s.rx_bytes;
        total.rx_dropped += s.rx_dropped;
        total.rx_throttled += s.rx_throttled;
        total.tx_packets += s.tx_packets;
        total.tx_bytes += s.tx_bytes;
        total.tx_dropped += s.tx_dropped;
        total.tx_throttled += s.tx_throttled;
    }
    line["net"] = to_json(total);
    std::string text = line.dump() + "\n";
    if (std::fputs(text.c_str(), metrics_file_) < 0 || std::fflush(metrics_file_) != 0) {
        spdlog::warn("metrics: writing {} failed: {}", resources_.metrics ? resources_.metrics->metrics_path : "?",
                     std::strerror(errno));
    }
}

void VmInstance::metrics_loop() {
    std::unique_lock lock(mutex_);
    while (state_ != VmState::Stopped) {
        if (changed_.wait_for(lock, kMetricsPeriod, [this] { return state_ == VmState::Stopped; })) {
            break;
        }
        write_metrics_line();
    }
    write_metrics_line();  // the totals at the end
}

Status VmInstance::apply(const VmResources& resources) {
    if (resources.logger) {
        if (auto status = set_logger(*resources.logger); !status) {
            return status;
        }
    }
    if (resources.metrics) {
        if (auto status = set_metrics(*resources.metrics); !status) {
            return status;
        }
    }
    if (resources.boot_source) {
        if (auto status = set_boot_source(*resources.boot_source); !status) {
            return status;
        }
    }
    if (auto status = set_machine_config(resources.machine_config); !status) {
        return status;
    }
    for (const NetworkInterface& interface : resources.network_interfaces) {
        if (auto status = set_network_interface(interface); !status) {
            return status;
        }
    }
    return {};
}

void VmInstance::stop(std::string reason) {
    std::lock_guard lock(mutex_);
    if (machine_ && state_ != VmState::Stopped) {
        machine_->lifecycle().request_stop(ExitStatus::GuestShutdown, std::move(reason));
    }
}

ExitInfo VmInstance::wait() {
    std::thread runner;
    std::thread metrics;
    {
        std::unique_lock lock(mutex_);
        changed_.wait(lock, [this] { return state_ == VmState::NotStarted || state_ == VmState::Stopped; });
        if (state_ == VmState::NotStarted) {
            return ExitInfo{0, "the microVM was never started"};
        }
        runner = std::move(runner_);
        metrics = std::move(metrics_thread_);
    }
    if (runner.joinable()) {
        runner.join();
    }
    if (metrics.joinable()) {
        metrics.join();
    }
    std::lock_guard lock(mutex_);
    return exit_.value_or(ExitInfo{});
}

std::optional<ExitInfo> VmInstance::wait_for(std::chrono::milliseconds timeout) {
    {
        std::unique_lock lock(mutex_);
        bool ended = changed_.wait_for(lock, timeout, [this] { return state_ == VmState::Stopped; });
        if (!ended) {
            return std::nullopt;
        }
    }
    return wait();
}

}  // namespace skiff
