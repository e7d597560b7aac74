// spdlog set-up: skiff's default logger on standard error, its level, and
// Firecracker's logger configuration (PUT /logger, the config file).
#pragma once

#include "skiff/config.h"
#include "vmm/result.h"

#include <spdlog/formatter.h>

#include <memory>
#include <string>

namespace skiff {

// skiff's default logger on standard error. Its lines, and those of a
// logger configure_logger() sets up, escape control characters in the
// message (make_log_formatter).
void setup_logging();

// A formatter for `pattern`, where %* stands for the message with every
// control character escaped (\n, \r, \t, \xNN): a client's or a guest's
// text cannot forge or break a log line.
std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& pattern);
void set_log_level(const std::string& level);

// Firecracker's level names (Error, Warning, Info, Debug, Trace, Off; any
// case) or spdlog's (err, warn, ...).
Result<std::string> spdlog_level_name(std::string_view level);

// log_path: append to that file (or named pipe) instead of standard error;
// level; show_level / show_log_origin shape each line. `module` is accepted
// and ignored (skiff has one logger).
Result<void> configure_logger(const LoggerConfig& config);

}  // namespace skiff
