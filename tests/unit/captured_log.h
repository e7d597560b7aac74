// The default logger's messages at `level` and worse (warnings unless told
// otherwise) routed to a string while one of these lives, for tests that
// check what skiff logs, as "LEVEL message" lines.
#pragma once

#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <memory>
#include <sstream>
#include <string>

namespace skiff::test {

class CapturedLog {
public:
    explicit CapturedLog(spdlog::level::level_enum level = spdlog::level::warn) : previous_(spdlog::default_logger()) {
        auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(stream_);
        auto logger = std::make_shared<spdlog::logger>("captured", sink);
        logger->set_pattern("%l %v");
        logger->set_level(level);
        spdlog::set_default_logger(logger);
    }
    ~CapturedLog() { spdlog::set_default_logger(previous_); }
    CapturedLog(const CapturedLog&) = delete;
    CapturedLog& operator=(const CapturedLog&) = delete;

    [[nodiscard]] std::string text() const { return stream_.str(); }
    [[nodiscard]] size_t lines() const {
        std::string all = text();
        return static_cast<size_t>(std::count(all.begin(), all.end(), '\n'));
    }

private:
    std::ostringstream stream_;
    std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace skiff::test
