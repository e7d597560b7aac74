// spdlog set-up: logs go to stderr so stdout stays the guest's console.
#pragma once

#include <string>

namespace skiff {

void setup_logging();
// Accepts trace, debug, info, warn, error, off.
void set_log_level(const std::string& level);

}  // namespace skiff
