// Command-line parsing (CLI11) into a validated VmConfig.
#pragma once

#include "vmm/exit_status.h"
#include "vmm/vm_config.h"

#include <memory>
#include <optional>
#include <string>
#include <variant>

namespace skiff {

// Firecracker's launch flags: skiff without `run` serves the API.
struct ApiModeOptions {
    std::string socket_path = "/run/skiff.socket";  // --api-sock
    std::string id = "anonymous-instance";          // --id
    std::optional<std::string> config_file;         // --config-file
    bool no_api = false;                            // --no-api (needs --config-file)
    bool no_seccomp = false;                        // --no-seccomp
    std::optional<std::string> log_path;            // --log-path
    std::optional<std::string> level;               // --level (Firecracker's names)
    Privileges privileges;                          // --uid, --gid, --chroot: dropped after InstanceStart's set-up
};

struct CommandLine {
    bool done = false;  // --help or --version was handled
    enum class Mode { Run, Api } mode = Mode::Run;
    VmConfig vm;  // `skiff run`
    ApiModeOptions api;
    std::string log_level = "info";
};

struct CommandLineError {
    ExitStatus status;
};

// Parses argv; prints help, version or errors itself.
struct ParsedCommandLine {
    std::variant<std::unique_ptr<CommandLine>, CommandLineError> state;
    [[nodiscard]] bool ok() const { return state.index() == 0; }
    [[nodiscard]] const std::unique_ptr<CommandLine>& value() const { return std::get<0>(state); }
    [[nodiscard]] const CommandLineError& error() const { return std::get<1>(state); }
};

ParsedCommandLine parse_command_line(int argc, char** argv);

// Exposed for tests: "stdio", "none", "file:PATH".
bool parse_serial(const std::string& text, SerialConfig& out);

}  // namespace skiff
