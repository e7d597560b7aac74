// skiff's log lines escape control characters: a client's or a guest's
// text (an API path, a file name from a request body) cannot forge a line.
#include "vmm/logging.h"

#include <catch2/catch.hpp>
#include <spdlog/sinks/ostream_sink.h>
#include <spdlog/spdlog.h>

#include <sstream>
#include <string>
#include <string_view>

TEST_CASE("log lines escape control characters in the message", "[logging]") {
    std::ostringstream out;
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out);
    spdlog::logger logger("escape-test", sink);
    logger.set_formatter(skiff::make_log_formatter("[%l] %*"));
    logger.info("loading {}", std::string_view("/k/a.elf\0/etc/shadow\n[fake] line\r\t\x1b[2J\x7f", 39));
    CHECK(out.str() == "[info] loading /k/a.elf\\x00/etc/shadow\\n[fake] line\\r\\t\\x1b[2J\\x7f\n");
    out.str("");
    logger.info("caf\xc3\xa9 is UTF-8, kept");
    CHECK(out.str() == "[info] caf\xc3\xa9 is UTF-8, kept\n");
}
