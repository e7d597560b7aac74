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

TEST_CASE("careless values are usage errors before anything is created", "[cli]") {
    std::string long_socket = "/tmp/" + std::string(103, 's');  // 108 bytes: no room for the NUL
    std::vector<std::vector<std::string>> careless = {
        {"run", "--cpus", "0x2"},
        {"run", "--cpus", "02"},
        {"run", "--cpus", " 2"},
        {"run", "--cpus", "+2"},
        {"run", "--memory", "abc"},
        {"run", "--memory", "0x100"},
        {"run", "--memory", "256M"},
        {"run", "--timeout", "nan"},
        {"run", "--timeout", "inf"},
        {"run", "--timeout", "0"},
        {"run", "--timeout", "1e3"},
        {"run", "--timeout", "2000000000"},
        {"run", "--cpu-template", "bogus"},
        {"run", "--cmdline", std::string(65536, 'x')},
        {"run", "--serial", "file:/nonexistent-skiff-dir/console.log"},
        {"run", "--uid", "0x3e8", "--gid", "1000"},
        {"--api-sock", long_socket},
        {"--api-sock", "/nonexistent-skiff-dir/skiff.sock"},
        {"--log-path", "/nonexistent-skiff-dir/skiff.log"},
        {"--id", "a b"},
        {"--id", std::string(65, 'i')},
        // Flags of API mode that `run` would ignore.
        {"--api-sock", "/tmp/x.sock", "run"},
        {"--log-path", "/tmp/skiff.log", "run"},
        {"--level", "Debug", "run"},
        {"--no-api", "--config-file", "/dev/null", "--api-sock", "/tmp/x.sock"},
        // The same flag before and after `run`, with different values.
        {"--uid", "1", "--gid", "1", "run", "--uid", "2"},
        // Two --net on one host resource, and 17 on virtio-mmio.
        {"run", "--net", "mode=tap,fd=5", "--net", "mode=tap,fd=5"},
        {"run", "--net", "mode=tap,ifname=tap0", "--net", "mode=tap,ifname=tap0"},
        {"run", "--net", "mode=macvtap,name=mvt0,link=eth1", "--net", "mode=macvtap,name=mvt0,link=eth1"},
        {"run", "--net", "mode=tap,ifname=tap0,mac=02:00:00:00:00:01", "--net",
         "mode=tap,ifname=tap1,mac=02:00:00:00:00:01"},
        {"run", "--net", "mode=tap,ifname=tap0,mtu=65522"},
    };
    std::vector<std::string> seventeen = {"run"};
    for (int i = 0; i < 17; ++i) {
        seventeen.insert(seventeen.end(), {"--net", "mode=tap,ifname=tap" + std::to_string(i)});
    }
    careless.push_back(seventeen);
    for (const auto& words : careless) {
        INFO(words.at(0) << " " << (words.size() > 1 ? words[1] : "") << " " << (words.size() > 2 ? words[2] : ""));
        auto parsed = parse(words);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().status == skiff::ExitStatus::UsageError);
    }
}

TEST_CASE("plain decimal values still parse", "[cli]") {
    auto parsed = parse({"run", "--cpus", "10", "--memory", "1024", "--timeout", "0.5", "--cpu-template", "host"});
    REQUIRE(parsed.ok());
    CHECK(parsed.value()->vm.cpu_count == 10);
    CHECK(parsed.value()->vm.memory_mib == 1024);
    CHECK(parsed.value()->vm.timeout_seconds == 0.5);

    std::vector<std::string> sixteen = {"run"};
    for (int i = 0; i < 16; ++i) {
        sixteen.insert(sixteen.end(), {"--net", "mode=tap,ifname=tap" + std::to_string(i)});
    }
    auto mmio = parse(sixteen);
    REQUIRE(mmio.ok());
    CHECK(mmio.value()->vm.networks.size() == 16);

    auto same_twice = parse({"--uid", "1", "--gid", "1", "run", "--uid", "1"});
    REQUIRE(same_twice.ok());
}
