#include "vmm/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

namespace skiff {

void setup_logging() {
    auto logger = spdlog::stderr_color_mt("skiff");
    logger->set_pattern("[%T.%e] [skiff] [%^%l%$] %v");
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::info);
}

void set_log_level(const std::string& level) {
    spdlog::set_level(spdlog::level::from_str(level));
}

}  // namespace skiff
