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
#include "vmm/vm_instance.h"

#include <signal.h>

#include <spdlog/spdlog.h>

namespace {

using namespace skiff;

// Blocks SIGINT/SIGTERM before any thread starts, so that every thread
// inherits the mask: the event loop reads them from a signalfd, and the
// API mode's main thread with sigtimedwait().
sigset_t block_stop_signals() {
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);
    return signals;
}

int run_from_flags(const CommandLine& command, Machine::Clock::time_point process_start) {
    VmInstanceOptions options;
    options.process_start = process_start;
    options.default_kernel = embedded_testguest();
    options.require_boot_source = false;
    VmInstance instance(std::move(options));
    if (auto started = instance.start_with(command.vm); !started) {
        spdlog::error("{}", started.message());
        return static_cast<int>(ExitStatus::StartupError);
    }
    return instance.wait().status;
}

Result<VmResources> read_config_file(const std::string& path) {
    auto bytes = TRY(read_file(path, 1024 * 1024, "config file",
                               "allowed: it exceeds the 1 MiB limit for config files"));
    std::string_view text(reinterpret_cast<const char*>(bytes.data()), bytes.size());
    return api::parse_config_file(text).context_error(fmt::format("config file {}", path));
}

int serve(const ApiModeOptions& flags, const sigset_t& stop_signals, Machine::Clock::time_point process_start) {
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
            spdlog::error("{}", applied.message());
            return static_cast<int>(ExitStatus::StartupError);
        }
    }

    // Until the VM ends (wait_for returns at once then), or a signal ends
    // skiff: before InstanceStart directly; after it by stopping the VM
    // (whose event loop may take the signal first, to the same effect).
    for (;;) {
        if (auto ended = instance.wait_for(std::chrono::milliseconds(50))) {
            return ended->status;
        }
        siginfo_t info{};
        const timespec no_wait{0, 0};
        if (::sigtimedwait(&stop_signals, &info, &no_wait) > 0) {
            if (instance.state() == VmState::NotStarted) {
                spdlog::info("stopped by signal {} before InstanceStart", info.si_signo);
                return static_cast<int>(ExitStatus::GuestShutdown);
            }
            instance.stop(fmt::format("stopped by signal {}", info.si_signo));
        }
    }
}

}  // namespace

int main(int argc, char** argv) {
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
    sigset_t stop_signals = block_stop_signals();
    if (command.mode == CommandLine::Mode::Api) {
        return serve(command.api, stop_signals, process_start);
    }
    return run_from_flags(command, process_start);
}
