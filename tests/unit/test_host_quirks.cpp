#include "vmm/host_quirks.h"

#include <catch2/catch.hpp>

#include <dirent.h>

#include <set>
#include <string>

namespace {

using skiff::QuirkMode;

class FakeProbe final : public skiff::HostProbe {
public:
    explicit FakeProbe(std::set<std::string> modules) : modules_(std::move(modules)) {}
    bool module_loaded(std::string_view name) const override {
        asked.insert(std::string(name));
        return modules_.count(std::string(name)) != 0;
    }
    mutable std::set<std::string> asked;

private:
    std::set<std::string> modules_;
};

const std::string kAdditions = "noxsave clearcpuid=308,288,151,158,306";

skiff::QuirkPolicy emulated() { return skiff::QuirkPolicy({true, "test"}); }
skiff::QuirkPolicy ordinary() { return skiff::QuirkPolicy({false, "test"}); }

}  // namespace

TEST_CASE("host quirks are detected from the kvm_pvm module, or forced", "[x86]") {
    FakeProbe pvm({"kvm", "kvm_pvm"});
    FakeProbe hardware({"kvm", "kvm_intel"});

    auto detected = skiff::detect_host_quirks(pvm);
    CHECK(detected.kernel_mode_emulated);
    CHECK_THAT(detected.reason, Catch::Contains("kvm_pvm"));
    CHECK(pvm.asked.count("kvm_pvm") == 1);

    auto plain = skiff::detect_host_quirks(hardware, QuirkMode::Auto);
    CHECK_FALSE(plain.kernel_mode_emulated);
    CHECK_THAT(plain.reason, Catch::Contains("no kvm_pvm"));

    auto forced = skiff::detect_host_quirks(hardware, QuirkMode::On);
    CHECK(forced.kernel_mode_emulated);
    CHECK_THAT(forced.reason, Catch::Contains("--host-quirks on"));

    auto disabled = skiff::detect_host_quirks(pvm, QuirkMode::Off);
    CHECK_FALSE(disabled.kernel_mode_emulated);
    CHECK_THAT(disabled.reason, Catch::Contains("although the kvm_pvm module is loaded"));
    CHECK_FALSE(skiff::detect_host_quirks(hardware, QuirkMode::Off).kernel_mode_emulated);
}

TEST_CASE("host-quirks flag values parse with a clear error", "[x86]") {
    for (QuirkMode mode : {QuirkMode::Auto, QuirkMode::On, QuirkMode::Off}) {
        auto parsed = skiff::parse_quirk_mode(skiff::quirk_mode_name(mode));
        REQUIRE(parsed.ok());
        CHECK(*parsed == mode);
    }
    auto bad = skiff::parse_quirk_mode("yes");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().message == "unknown --host-quirks value 'yes': expected auto, on or off");
}

TEST_CASE("the real probe reads /sys/module and refuses path tricks", "[x86]") {
    skiff::SysfsHostProbe probe;
    // Some entry of /sys/module exists on any Linux host with sysfs.
    std::string existing;
    if (DIR* directory = ::opendir("/sys/module")) {
        while (dirent* item = ::readdir(directory)) {
            if (item->d_name[0] != '.') {
                existing = item->d_name;
                break;
            }
        }
        ::closedir(directory);
    }
    if (!existing.empty()) {
        CHECK(probe.module_loaded(existing));
    }
    CHECK_FALSE(probe.module_loaded("skiff_no_such_module_here"));
    CHECK_FALSE(probe.module_loaded(""));
    CHECK_FALSE(probe.module_loaded(".."));
    CHECK_FALSE(probe.module_loaded("../../etc"));
}

TEST_CASE("quirk policy picks the CPU template", "[x86]") {
    CHECK(emulated().default_cpu_template() == skiff::CpuTemplate::EmulatedKernel);
    CHECK(ordinary().default_cpu_template() == skiff::CpuTemplate::Host);
    CHECK(emulated().complete_refused_instructions());
    CHECK_FALSE(ordinary().complete_refused_instructions());
    CHECK(*emulated().cpu_template("") == skiff::CpuTemplate::EmulatedKernel);
    CHECK(*emulated().cpu_template("host") == skiff::CpuTemplate::Host);
    CHECK(*ordinary().cpu_template("baseline") == skiff::CpuTemplate::Baseline);
    CHECK_FALSE(ordinary().cpu_template("fast").ok());
}

TEST_CASE("Linux parameters are added once, by parameter name", "[x86]") {
    CHECK(ordinary().linux_cmdline_additions("console=ttyS0").empty());
    CHECK(emulated().linux_cmdline_additions("console=ttyS0 reboot=k") == kAdditions);
    CHECK(emulated().linux_cmdline_additions("") == kAdditions);
    // The user's clearcpuid wins; noxsave is still added.
    CHECK(emulated().linux_cmdline_additions("console=ttyS0 clearcpuid=514") == "noxsave");
    CHECK(emulated().linux_cmdline_additions("noxsave quiet") == "clearcpuid=308,288,151,158,306");
    CHECK(emulated().linux_cmdline_additions("clearcpuid=1 noxsave").empty());
    CHECK(emulated().linux_cmdline_additions("\tnoxsave\n").find("noxsave") == std::string::npos);
    // Words, not substrings.
    CHECK(emulated().linux_cmdline_additions("mynoxsave noxsavex xclearcpuid=1 clearcpuid_x=2") == kAdditions);
    CHECK(emulated().linux_cmdline_additions("dyndbg=\"noxsave clearcpuid=1\"") == kAdditions);
    // After "--" the words belong to init.
    CHECK(emulated().linux_cmdline_additions("console=ttyS0 -- noxsave clearcpuid=1") == kAdditions);
    // A quoted parameter name still counts.
    CHECK(emulated().linux_cmdline_additions("\"clearcpuid=1,2\"") == "noxsave");

    CHECK(skiff::kernel_parameter_name("foo-bar=baz-qux") == "foo_bar");
    CHECK(skiff::kernel_parameter_name("\"quoted\"") == "quoted");
    auto words = skiff::kernel_parameter_words("a  b=\"x y\"\tc -- d");
    REQUIRE(words.size() == 3);
    CHECK(words[0] == "a");
    CHECK(words[1] == "b=\"x y\"");
    CHECK(words[2] == "c");
}

TEST_CASE("Linux parameters go before --, or at the end", "[x86]") {
    CHECK(emulated().linux_cmdline_with_additions("console=ttyS0") == "console=ttyS0 " + kAdditions);
    CHECK(emulated().linux_cmdline_with_additions("") == kAdditions);
    CHECK(emulated().linux_cmdline_with_additions("console=ttyS0 -- init-arg") ==
          "console=ttyS0 " + kAdditions + " -- init-arg");
    CHECK(emulated().linux_cmdline_with_additions("-- init-arg") == kAdditions + " -- init-arg");
    CHECK(emulated().linux_cmdline_with_additions("a noxsave clearcpuid=1") == "a noxsave clearcpuid=1");
    CHECK(ordinary().linux_cmdline_with_additions("console=ttyS0 -- x") == "console=ttyS0 -- x");
}

TEST_CASE("quirk summary says what was applied", "[x86]") {
    skiff::QuirkPolicy policy({true, "the kvm_pvm module is loaded"});
    std::string line = policy.summary(skiff::CpuTemplate::EmulatedKernel, kAdditions);
    CHECK_THAT(line, Catch::Contains("kvm_pvm") && Catch::Contains("emulated-kernel") &&
                         Catch::Contains(kAdditions) && Catch::Contains("int3"));
    CHECK_THAT(policy.summary(skiff::CpuTemplate::EmulatedKernel, ""), Catch::Contains("none added"));
    CHECK_THAT(policy.summary(skiff::CpuTemplate::Host, ""), Catch::Contains("chosen by the user"));
    CHECK_THAT(ordinary().summary(skiff::CpuTemplate::Host, ""), Catch::StartsWith("no host quirks"));
}
