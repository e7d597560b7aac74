// skiff's command line. `skiff run ...` boots one microVM from flags;
// without `run`, skiff takes Firecracker's launch flags and is driven over
// its REST API (--api-sock) or from a config file (--config-file). Either
// way it exits with a status that says how the VM ended (vmm/exit_status.h).
#include "guest-images/embedded_testguest.h"
#include "vmm/api/http_server.h"
#include "vmm/api/json_model.h"
#include "vmm/cli.h"
#include "vmm/file_reader.h"
#include "vmm/logging.h"
#include "vmm/seccomp.h"
#include "vmm/stop_signals.h"
#include "vmm/vm_instance.h"

#include <spdlog/spdlog.h>

namespace {

using namespace skiff;

// A start-up that a stop signal cut short ends as the signal would have
// ended the VM: status 0.
int startup_failed(const Status& started) {
    if (int signal_number = stop_signals::received()) {
        spdlog::info("stopped by signal {} during start-up", signal_number);
        return static_cast<int>(ExitStatus::GuestShutdown);
    }
    spdlog::error("{}", started.message());
    return static_cast<int>(ExitStatus::StartupError);
}

// From the time the VM runs, the main thread is filtered like every other
// (vmm/seccomp.h); a filter that cannot be installed stops the VM.
void filter_main_thread(VmInstance& instance) {
    if (auto installed = seccomp::install_if_armed(seccomp::ThreadKind::Main); !installed.ok()) {
        spdlog::error("{}", installed.error().message);
        instance.stop(installed.error().message);
    }
}

int run_from_flags(const CommandLine& command, Machine::Clock::time_point process_start) {
    VmInstanceOptions options;
    options.process_start = process_start;
    options.default_kernel = embedded_testguest();
    options.require_boot_source = false;
    VmInstance instance(std::move(options));
    if (auto started = instance.start_with(command.vm); !started) {
        return startup_failed(started);
    }
    filter_main_thread(instance);
    return instance.wait().status;
}

Result<VmResources> read_config_file(const std::string& path) {
    auto bytes = TRY(read_file(path, 1024 * 1024, "config file",
                               "allowed: it exceeds the 1 MiB limit for config files"));
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return api::parse_config_file(text).context_error(fmt::format("config file {}", path));
}

int serve(const ApiModeOptions& flags, Machine::Clock::time_point process_start) {
    if (flags.log_path || flags.level) {
        LoggerConfig logger;
        logger.log_path = flags.log_path;
        logger.level = flags.level;
        if (auto configured = configure_logger(logger); !configured.ok()) {
            spdlog::error("{}", configured.error().message);
            return static_cast<int>(ExitStatus::StartupError);
        }
    }
    VmInstanceOptions options;
    options.id = flags.id;
    options.process_start = process_start;
    options.default_kernel = embedded_testguest();
    options.base.privileges = flags.privileges;
    options.base.seccomp = !flags.no_seccomp;
    VmInstance instance(std::move(options));

    std::unique_ptr<api::ApiServer> server;
    if (!flags.no_api) {
        // With --uid, the socket is that user's: it can still connect (and
        // skiff remove the file) once skiff runs as that user.
        std::optional<api::SocketOwner> owner;
        if (flags.privileges.uid) {
            owner = api::SocketOwner{*flags.privileges.uid, *flags.privileges.gid};
        }
        auto started = api::ApiServer::start(flags.socket_path, instance, owner);
        if (!started.ok()) {
            spdlog::error("{}", started.error().message);
            return static_cast<int>(ExitStatus::StartupError);
        }
        server = std::move(started.value());
    }
    if (flags.config_file) {
        auto resources = read_config_file(*flags.config_file);
        Status applied = resources.ok() ? instance.apply(*resources) : Status::failure(resources.error().message);
        if (applied) {
            applied = instance.start();
        }
        if (!applied) {
            return startup_failed(applied);
        }
    }

    // Until the VM ends (wait_for returns at once then), or a signal ends
    // skiff: before InstanceStart directly; after it by stopping the VM
    // (whose event loop may take the signal first, to the same effect).
    for (;;) {
        if (instance.state() != VmState::NotStarted) {
            filter_main_thread(instance);  // once: install_if_armed
        }
        if (auto ended = instance.wait_for(std::chrono::milliseconds(50))) {
            return ended->status;
        }
        // An API thread reading a large image may have taken the signal.
        stop_signals::take_pending();
        int signal_number = stop_signals::received();
        if (signal_number != 0) {
            if (instance.state() == VmState::NotStarted) {
                spdlog::info("stopped by signal {} before InstanceStart", signal_number);
                return static_cast<int>(ExitStatus::GuestShutdown);
            }
            instance.stop(fmt::format("stopped by signal {}", signal_number));
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
    // First: a stop signal from here on is handled, not fatal.
    stop_signals::block();
    auto process_start = Machine::Clock::now();
    setup_logging();

    auto parsed = parse_command_line(argc, argv);
    if (!parsed.ok()) {
        return static_cast<int>(parsed.error().status);
    }
    const CommandLine& command = *parsed.value();
    if (command.done) {
        return 0;  // --help, --version
    }
    set_log_level(command.log_level);
    if (command.mode == CommandLine::Mode::Api) {
        return serve(command.api, process_start);
    }
    return run_from_flags(command, process_start);
}
