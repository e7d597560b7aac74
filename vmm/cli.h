// Command-line parsing (CLI11) into a validated VmConfig.
#pragma once

#include "vmm/exit_status.h"
#include "vmm/vm_config.h"

#include <memory>
#include <string>
#include <variant>

namespace skiff {

struct CommandLine {
    bool done = false;  // --help or --version was handled
    VmConfig vm;
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
