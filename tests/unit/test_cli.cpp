#include "cli_parse.h"
#include "vmm/cli.h"

#include <catch2/catch.hpp>

#include <string>
#include <vector>

namespace {

const auto parse = &skiff::test::parse_words;

}  // namespace

TEST_CASE("serial option values", "[cli]") {
    skiff::SerialConfig config;
    CHECK(skiff::parse_serial("stdio", config));
    CHECK(config.output == skiff::SerialOutput::Stdio);
    CHECK(skiff::parse_serial("none", config));
    CHECK(config.output == skiff::SerialOutput::None);
    CHECK(skiff::parse_serial("file:/tmp/console.log", config));
    CHECK(config.output == skiff::SerialOutput::File);
    CHECK(config.path == "/tmp/console.log");
    CHECK_FALSE(skiff::parse_serial("file:", config));
    CHECK_FALSE(skiff::parse_serial("tty", config));
}

TEST_CASE("run flags become a VmConfig", "[cli]") {
    auto parsed = parse({"--log-level", "warn", "run", "--cpus", "2", "--memory", "256", "--cmdline",
                         "console=ttyS0 quiet", "--serial", "none", "--cpu-template", "baseline",
                         "--host-quirks", "off", "--boot-protocol", "linux64", "--timeout", "1.5"});
    REQUIRE(parsed.ok());
    const auto& command = *parsed.value();
    CHECK(command.log_level == "warn");
    CHECK(command.vm.kernel_path.empty());  // the embedded test guest
    CHECK(command.vm.cpu_count == 2);
    CHECK(command.vm.memory_mib == 256);
    CHECK(command.vm.cmdline == "console=ttyS0 quiet");
    CHECK(command.vm.serial.output == skiff::SerialOutput::None);
    CHECK(command.vm.cpu_template == "baseline");
    CHECK(command.vm.host_quirks == skiff::HostQuirkChoice::Off);
    CHECK(command.vm.boot_protocol == skiff::BootProtocolChoice::Linux64);
    REQUIRE(command.vm.timeout_seconds.has_value());
    CHECK(*command.vm.timeout_seconds == 1.5);
}

TEST_CASE("bad flags are usage errors", "[cli]") {
    for (const auto& words : std::vector<std::vector<std::string>>{
             {"run", "--cpus", "0"},
             {"run", "--cpus", "65"},
             {"run", "--memory", "1"},
             {"run", "--serial", "tty"},
             {"run", "--host-quirks", "maybe"},
             {"run", "--timeout", "-3"},
             {"run", "--kernel", "/nonexistent/kernel"},
             {"run", "--frobnicate"},
             {"--no-api"},                      // without --config-file
             {"--level", "Loud"},
             {"--config-file", "/nonexistent/vm.json"},
             {"--api-sock"},
         }) {
        auto parsed = parse(words);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().status == skiff::ExitStatus::UsageError);
    }
}

TEST_CASE("without run, skiff takes Firecracker's launch flags", "[cli]") {
    auto defaults = parse({});
    REQUIRE(defaults.ok());
    CHECK(defaults.value()->mode == skiff::CommandLine::Mode::Api);
    CHECK(defaults.value()->api.socket_path == "/run/skiff.socket");
    CHECK_FALSE(defaults.value()->api.no_api);

    auto flags = parse({"--api-sock", "/tmp/a.sock", "--id", "vm7", "--level", "Debug", "--log-path", "/tmp/l"});
    REQUIRE(flags.ok());
    const skiff::ApiModeOptions& api = flags.value()->api;
    CHECK(api.socket_path == "/tmp/a.sock");
    CHECK(api.id == "vm7");
    CHECK(api.level == std::optional<std::string>("Debug"));
    CHECK(api.log_path == std::optional<std::string>("/tmp/l"));

    auto run = parse({"run"});
    REQUIRE(run.ok());
    CHECK(run.value()->mode == skiff::CommandLine::Mode::Run);
}
