#include "vmm/logging.h"

#include "vmm/output_file.h"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/base_sink.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <cerrno>
#include <mutex>

#include <algorithm>
#include <array>
#include <cctype>

namespace skiff {

namespace {

// %* is the message with its control characters escaped (%v unescaped).
constexpr const char* kPattern = "[%T.%e] [skiff] [%^%l%$] %*";

// Messages carry what clients and guests sent (an API path, a file name
// from a request body, a device's name): a newline there would forge a log
// line, a NUL or an escape sequence corrupt a terminal or a log parser. So
// every byte below 0x20 and 0x7f is written as \n, \r, \t or \xNN.
class EscapedMessage final : public spdlog::custom_flag_formatter {
public:
    void format(const spdlog::details::log_msg& message, const std::tm&, spdlog::memory_buf_t& out) override {
        for (char c : message.payload) {
            auto byte = static_cast<unsigned char>(c);
            if (byte >= 0x20 && byte != 0x7f) {
                out.push_back(c);
                continue;
            }
            out.push_back('\\');
            switch (c) {
                case '\n': out.push_back('n'); break;
                case '\r': out.push_back('r'); break;
                case '\t': out.push_back('t'); break;
                default: fmt::format_to(std::back_inserter(out), "x{:02x}", byte); break;
            }
        }
    }
    [[nodiscard]] std::unique_ptr<custom_flag_formatter> clone() const override {
        return std::make_unique<EscapedMessage>();
    }
};

// Log lines into a file or FIFO opened by open_output_file (spdlog's file
// sink would block in open() on a FIFO with no reader, and create missing
// directories). A failed write drops the line: logging never stops skiff.
class FdSink final : public spdlog::sinks::base_sink<std::mutex> {
public:
    explicit FdSink(UniqueFd fd) : fd_(std::move(fd)) {}

protected:
    void sink_it_(const spdlog::details::log_msg& message) override {
        spdlog::memory_buf_t line;
        formatter_->format(message, line);
        const char* data = line.data();
        size_t left = line.size();
        while (left > 0) {
            ssize_t written = ::write(fd_.get(), data, left);
            if (written < 0 && errno == EINTR) {
                continue;
            }
            if (written <= 0) {
                return;
            }
            data += written;
            left -= static_cast<size_t>(written);
        }
    }
    void flush_() override {}

private:
    UniqueFd fd_;
};

}  // namespace

std::unique_ptr<spdlog::formatter> make_log_formatter(const std::string& pattern) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<EscapedMessage>('*').set_pattern(pattern);
    return formatter;
}

void setup_logging() {
    auto logger = spdlog::stderr_color_mt("skiff");
    logger->set_formatter(make_log_formatter(kPattern));
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
        auto file = TRY(open_output_file(*config.log_path, "log_path", OutputMode::Append));
        auto sink = std::make_shared<FdSink>(std::move(file));
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
    bool own_pattern = config.log_path || config.show_level || config.show_log_origin;
    logger->set_formatter(make_log_formatter(own_pattern ? pattern + " %*" : kPattern));
    logger->flush_on(spdlog::level::info);
    if (!level.empty()) {
        spdlog::set_level(spdlog::level::from_str(level));
    }
    return {};
}

}  // namespace skiff
