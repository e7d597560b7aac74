// spdlog set-up: skiff's default logger on standard error, its level, and
// Firecracker's logger configuration (PUT /logger, the config file).
#pragma once

#include "skiff/config.h"
#include "vmm/result.h"

#include <string>

namespace skiff {

void setup_logging();
void set_log_level(const std::string& level);

// Firecracker's level names (Error, Warning, Info, Debug, Trace, Off; any
// case) or spdlog's (err, warn, ...).
Result<std::string> spdlog_level_name(std::string_view level);

// log_path: append to that file (or named pipe) instead of standard error;
// level; show_level / show_log_origin shape each line. `module` is accepted
// and ignored (skiff has one logger).
Result<void> configure_logger(const LoggerConfig& config);

}  // namespace skiff
