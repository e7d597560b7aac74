#include "vmm/logging.h"

#include "vmm/parent_directory.h"

#include <spdlog/sinks/basic_file_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>
#include <cctype>

namespace skiff {

namespace {

constexpr const char* kPattern = "[%T.%e] [skiff] [%^%l%$] %v";

}  // namespace

void setup_logging() {
    auto logger = spdlog::stderr_color_mt("skiff");
    logger->set_pattern(kPattern);
    spdlog::set_default_logger(logger);
    spdlog::set_level(spdlog::level::info);
}

void set_log_level(const std::string& level) {
    spdlog::set_level(spdlog::level::from_str(level));
}

Result<std::string> spdlog_level_name(std::string_view level) {
    std::string lower(level);
    std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
    constexpr std::array<std::pair<std::string_view, std::string_view>, 9> kNames{{
        {"error", "err"}, {"err", "err"}, {"warning", "warn"}, {"warn", "warn"}, {"info", "info"},
        {"debug", "debug"}, {"trace", "trace"}, {"off", "off"}, {"critical", "critical"},
    }};
    for (const auto& [name, spdlog_name] : kNames) {
        if (lower == name) {
            return std::string(spdlog_name);
        }
    }
    return Error::format("log level '{}' is not one of Error, Warning, Info, Debug, Trace, Off", level);
}

Result<void> configure_logger(const LoggerConfig& config) {
    std::string level;
    if (config.level) {
        level = TRY(spdlog_level_name(*config.level));
    }
    std::shared_ptr<spdlog::logger> logger = spdlog::default_logger();
    if (config.log_path) {
        // spdlog's file sink would create missing directories.
        TRY(require_parent_directory(*config.log_path).context_error(fmt::format("log_path {}", *config.log_path)));
        std::shared_ptr<spdlog::sinks::sink> sink;
        try {
            sink = std::make_shared<spdlog::sinks::basic_file_sink_mt>(*config.log_path, false);
        } catch (const spdlog::spdlog_ex& error) {
            return Error::format("log_path {}: {}", *config.log_path, error.what());
        }
        logger = std::make_shared<spdlog::logger>("skiff", sink);
        spdlog::set_default_logger(logger);
    }
    // Firecracker shows neither the level nor the origin unless asked.
    std::string pattern = "[%T.%e] [skiff]";
    if (config.show_level.value_or(true)) {
        pattern += " [%l]";
    }
    if (config.show_log_origin.value_or(false)) {
        pattern += " [%s:%#]";
    }
    logger->set_pattern(config.log_path || config.show_level || config.show_log_origin ? pattern + " %v" : kPattern);
    logger->flush_on(spdlog::level::info);
    if (!level.empty()) {
        spdlog::set_level(spdlog::level::from_str(level));
    }
    return {};
}

}  // namespace skiff
