// skiff's command line: `skiff run ...` boots one microVM and exits with a
// status that says how it ended (vmm/exit_status.h).
#include "guest-images/embedded_testguest.h"
#include "vmm/cli.h"
#include "vmm/logging.h"
#include "vmm/machine.h"

#include <signal.h>

#include <cstdio>

#include <spdlog/spdlog.h>

int main(int argc, char** argv) {
    using namespace skiff;
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

    // SIGINT/SIGTERM are read from a signalfd by the event loop; block them
    // before any thread starts so that every thread inherits the mask.
    sigset_t signals;
    sigemptyset(&signals);
    sigaddset(&signals, SIGINT);
    sigaddset(&signals, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &signals, nullptr);

    auto machine = Machine::build(command.vm, process_start, embedded_testguest());
    if (!machine.ok()) {
        spdlog::error("{}", machine.error().message);
        return static_cast<int>(ExitStatus::StartupError);
    }
    ExitReport report = (*machine)->run();
    if (report.status == ExitStatus::GuestShutdown) {
        spdlog::info("{}", report.message);
    } else {
        spdlog::error("{}: {}", describe(report.status), report.message);
    }
    return static_cast<int>(report.status);
}
