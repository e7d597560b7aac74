#include "vmm/cli.h"

#include "vmm/cli_checks.h"
#include "vmm/logging.h"
#include "vmm/network_set.h"
#include "vmm/parent_directory.h"
#include "vmm/privileges.h"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <tuple>

namespace skiff {

bool parse_serial(const std::string& text, SerialConfig& out) {
    if (text == "stdio") {
        out = SerialConfig{SerialOutput::Stdio, {}};
        return true;
    }
    if (text == "none") {
        out = SerialConfig{SerialOutput::None, {}};
        return true;
    }
    constexpr std::string_view kFilePrefix = "file:";
    if (text.rfind(kFilePrefix, 0) == 0 && text.size() > kFilePrefix.size()) {
        out = SerialConfig{SerialOutput::File, text.substr(kFilePrefix.size())};
        return true;
    }
    return false;
}

namespace {

constexpr const char* kApiModeHelp = R"(
Without `run`, skiff serves Firecracker's REST API on --api-sock and boots
when told to (PUT /actions {"action_type": "InstanceStart"}), or at once from
--config-file. See README "Control API".
)";

constexpr const char* kExitStatusHelp = R"(
Exit status:
  0  the guest shut down or rebooted (i8042 reset), or skiff got SIGTERM/SIGINT
  1  start-up error (bad image, missing file, host lacks KVM, ...)
  2  usage error (bad flags or values: refused before anything is created)
  3  guest crash (triple fault)
  4  KVM error (internal error, emulation failure skiff could not complete)
  5  --timeout expired
  6  a thread made a system call its seccomp filter forbids (--no-seccomp to debug))";

constexpr const char* kUidHelp = "After set-up, before the guest runs: become this user id (numeric; needs --gid)";
constexpr const char* kGidHelp = "After set-up: this group id (numeric; needs --uid), no supplementary groups";
constexpr const char* kChrootHelp =
    "After set-up: chroot into this existing (possibly empty) directory; skiff opens nothing by path afterwards";

// --uid/--gid/--chroot as typed, on the top level (API mode) or on `run`.
struct PrivilegeFlags {
    std::string uid;
    std::string gid;
    std::string chroot;

    void add_to(CLI::App& app) {
        app.add_option("--uid", uid, kUidHelp);
        app.add_option("--gid", gid, kGidHelp);
        app.add_option("--chroot", chroot, kChrootHelp);
    }
};

// The checked Privileges of `first`, or else of `second` (flags before or
// after `run`); prints the error itself.
std::optional<Privileges> read_privileges(const PrivilegeFlags& first, const PrivilegeFlags& second) {
    Privileges privileges;
    auto pick = [](const std::string& a, const std::string& b) -> const std::string& { return a.empty() ? b : a; };
    const std::string& uid = pick(first.uid, second.uid);
    const std::string& gid = pick(first.gid, second.gid);
    const std::string& chroot = pick(first.chroot, second.chroot);
    auto report = [](const Error& error) {
        std::fprintf(stderr, "%s\n", error.message.c_str());
        return std::nullopt;
    };
    // One flag before and after `run` must not say two things.
    for (auto [flag, after, before] : {std::tuple{"--uid", &first.uid, &second.uid},
                                       std::tuple{"--gid", &first.gid, &second.gid},
                                       std::tuple{"--chroot", &first.chroot, &second.chroot}}) {
        if (!after->empty() && !before->empty() && *after != *before) {
            return report(Error::format("{} is given before and after `run` ('{}' and '{}'): give it once", flag,
                                        *before, *after));
        }
    }
    if (!uid.empty()) {
        auto parsed = parse_numeric_id(uid, "--uid");
        if (!parsed.ok()) {
            return report(parsed.error());
        }
        privileges.uid = *parsed;
    }
    if (!gid.empty()) {
        auto parsed = parse_numeric_id(gid, "--gid");
        if (!parsed.ok()) {
            return report(parsed.error());
        }
        privileges.gid = *parsed;
    }
    if (!chroot.empty()) {
        privileges.chroot = chroot;
    }
    if (auto checked = check_privileges(privileges); !checked.ok()) {
        return report(checked.error());
    }
    return privileges;
}

}  // namespace

ParsedCommandLine parse_command_line(int argc, char** argv) {
    auto command = std::make_unique<CommandLine>();
    VmConfig& vm = command->vm;

    CLI::App app{"skiff: a minimal KVM virtual machine monitor for Linux microVMs", "skiff"};
    app.set_version_flag("--version", std::string("skiff ") + SKIFF_VERSION);
    app.require_subcommand(0, 1);
    app.footer(std::string(kApiModeHelp) + kExitStatusHelp);
    app.add_option("--log-level", command->log_level, "Log level: trace, debug, info, warn, error, off")
        ->check(CLI::IsMember({"trace", "debug", "info", "warn", "error", "off"}));
    ApiModeOptions& api = command->api;
    app.add_option("--api-sock", api.socket_path, "Unix socket for the REST API (without `run`)")
        ->check(cli::socket_path())
        ->capture_default_str();
    app.add_option("--id", api.id, "MicroVM id, reported by GET / (without `run`)")
        ->check(cli::instance_id())
        ->capture_default_str();
    app.add_option("--config-file", api.config_file,
                   "Boot from this JSON file (Firecracker's format) without API calls")
        ->check(CLI::ExistingFile);
    app.add_flag("--no-api", api.no_api, "Serve no API (needs --config-file)");
    app.add_flag("--no-seccomp", api.no_seccomp,
                 "Run without the per-thread seccomp filters (for debugging a forbidden system call, exit 6)");
    app.add_option("--log-path", api.log_path,
                   "Append skiff's log to this file instead of standard error (its directory must exist)")
        ->check(cli::in_existing_directory());
    app.add_option("--level", api.level, "Log level, Firecracker's names: Error, Warning, Info, Debug, Trace, Off")
        ->check([](const std::string& text) {
            auto level = spdlog_level_name(text);
            return level.ok() ? std::string() : level.error().message;
        });
    PrivilegeFlags top_privileges;
    top_privileges.add_to(app);

    CLI::App* run = app.add_subcommand("run", "Boot a microVM and run it until it shuts down");
    run->footer(kExitStatusHelp);
    run->add_option("--kernel", vm.kernel_path,
                    "Kernel image: bzImage, or ELF (vmlinux, PVH); default: the embedded test guest")
        ->check(CLI::ExistingFile);
    std::string initrd;
    run->add_option("--initrd", initrd, "Initial ramdisk")->check(CLI::ExistingFile);
    run->add_option("--cmdline", vm.cmdline, "Kernel command line")
        ->check(cli::at_most_bytes(kMaxCmdlineBytes))
        ->capture_default_str();
    // Checked as text: CLI11 itself would read "0x2" as 2 and "010" as 8.
    run->add_option("--cpus", vm.cpu_count, "Number of vCPUs")
        ->check(cli::whole_number(1, kMaxCpus, "vCPUs"))
        ->capture_default_str();
    run->add_option("--memory", vm.memory_mib, "Guest memory in MiB")
        ->check(cli::whole_number(kMinMemoryMib, kMaxMemoryMib, "MiB"))
        ->capture_default_str();
    std::string serial = "stdio";
    run->add_option("--serial", serial, "Serial console: stdio, file:PATH or none")
        ->check([](const std::string& text) {
            SerialConfig parsed;
            if (!parse_serial(text, parsed)) {
                return std::string("expected stdio, file:PATH or none");
            }
            auto directory = parsed.output == SerialOutput::File ? require_parent_directory(parsed.path)
                                                                   : Result<void>();
            return directory.ok() ? std::string() : directory.error().message;
        })
        ->capture_default_str();
    std::string cpu_template;
    run->add_option("--cpu-template", cpu_template,
                    "CPU template: host, baseline, emulated-kernel (default: chosen for the host)")
        ->check(cli::cpu_template_name());
    std::string host_quirks = "auto";
    run->add_option("--host-quirks", host_quirks,
                    "Work-arounds for hosts whose KVM emulates guest kernel mode: auto, on, off")
        ->check(CLI::IsMember({"auto", "on", "off"}))
        ->capture_default_str();
    std::string boot_protocol = "auto";
    run->add_option("--boot-protocol", boot_protocol,
                    "ELF entry: auto (PVH when the image has the note), pvh, linux64")
        ->check(CLI::IsMember({"auto", "pvh", "linux64"}))
        ->capture_default_str();
    std::vector<std::string> networks;
    run->add_option("--net", networks,
                    "A network interface (repeatable): mode=tap,ifname=NAME[,bridge=BR][,fd=N][,mac=MAC]"
                    "[,mtu=N][,transport=mmio|pci]; --net help lists the modes")
        ->check([](const std::string& text) {
            if (text == "help") {
                return std::string();
            }
            auto parsed = net::parse_net_config(text);
            if (parsed.ok()) {
                return std::string();
            }
            // CLI11 names the option itself.
            std::string message = parsed.error().message;
            constexpr std::string_view kPrefix = "--net: ";
            return message.starts_with(kPrefix) ? message.substr(kPrefix.size()) : message;
        })
        ->allow_extra_args(false);
    bool no_seccomp = false;
    run->add_flag("--no-seccomp", no_seccomp,
                  "Run without the per-thread seccomp filters (for debugging a forbidden system call, exit 6)");
    double timeout = 0;
    run->add_option("--timeout", timeout,
                    "Stop the VM (exit 5) after it ran this many seconds (paused time not counted)")
        ->check(cli::seconds(kMaxTimeoutSeconds));
    PrivilegeFlags run_privileges;
    run_privileges.add_to(*run);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& error) {
        int code = app.exit(error);
        if (code == 0) {
            command->done = true;
            return ParsedCommandLine{std::move(command)};
        }
        return ParsedCommandLine{CommandLineError{ExitStatus::UsageError}};
    }
    // Checked before anything is set up: a typo must not cost a VM start.
    auto privileges = read_privileges(run_privileges, top_privileges);
    if (!privileges) {
        return ParsedCommandLine{CommandLineError{ExitStatus::UsageError}};
    }

    if (run->parsed()) {
        // They would be ignored: `skiff run` serves no API and logs to stderr.
        for (const char* flag : {"--api-sock", "--id", "--config-file", "--no-api", "--log-path", "--level"}) {
            if (app.get_option(flag)->count() > 0) {
                std::fprintf(stderr, "%s is for API mode (skiff without `run`): `skiff run` does not take it\n",
                             flag);
                return ParsedCommandLine{CommandLineError{ExitStatus::UsageError}};
            }
        }
    } else {
        api.privileges = *privileges;
        command->mode = CommandLine::Mode::Api;
        if (api.no_api && !api.config_file) {
            std::fputs("--no-api needs --config-file FILE: without the API, the file is the only way to "
                       "configure the microVM\n", stderr);
            return ParsedCommandLine{CommandLineError{ExitStatus::UsageError}};
        }
        if (api.no_api && app.get_option("--api-sock")->count() > 0) {
            std::fputs("--api-sock does not go with --no-api: without the API there is no socket\n", stderr);
            return ParsedCommandLine{CommandLineError{ExitStatus::UsageError}};
        }
        return ParsedCommandLine{std::move(command)};
    }
    for (const std::string& text : networks) {
        if (text == "help") {
            std::fputs(net::net_config_help().c_str(), stdout);
            command->done = true;
            return ParsedCommandLine{std::move(command)};
        }
        vm.networks.push_back(net::parse_net_config(text).value());
    }
    // Two --net on one tap, fd or MAC, or more than the buses take: refused
    // before the first tap is created.
    if (auto set = check_network_set(vm.networks); !set.ok()) {
        std::fprintf(stderr, "--net: %s\n", set.error().message.c_str());
        return ParsedCommandLine{CommandLineError{ExitStatus::UsageError}};
    }
    if (!initrd.empty()) {
        vm.initrd_path = initrd;
    }
    if (!cpu_template.empty()) {
        vm.cpu_template = cpu_template;
    }
    parse_serial(serial, vm.serial);
    vm.host_quirks = host_quirks == "on"    ? HostQuirkChoice::On
                     : host_quirks == "off" ? HostQuirkChoice::Off
                                            : HostQuirkChoice::Auto;
    vm.boot_protocol = boot_protocol == "pvh"       ? BootProtocolChoice::Pvh
                       : boot_protocol == "linux64" ? BootProtocolChoice::Linux64
                                                    : BootProtocolChoice::Auto;
    if (timeout > 0) {
        vm.timeout_seconds = timeout;
    }
    vm.privileges = *privileges;
    vm.seccomp = !no_seccomp && !api.no_seccomp;
    return ParsedCommandLine{std::move(command)};
}

}  // namespace skiff
