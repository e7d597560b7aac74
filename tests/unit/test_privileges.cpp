#include "cli_parse.h"
#include "vmm/cli.h"
#include "vmm/privileges.h"

#include <catch2/catch.hpp>

#include <unistd.h>

#include <string>
#include <vector>

namespace {

const auto parse = &skiff::test::parse_words;

}  // namespace

TEST_CASE("numeric ids", "[privileges]") {
    CHECK(skiff::parse_numeric_id("0", "--uid").value() == 0);
    CHECK(skiff::parse_numeric_id("65534", "--uid").value() == 65534);
    CHECK(skiff::parse_numeric_id("4294967294", "--gid").value() == 4294967294u);
    for (const char* bad : {"", "nobody", "-1", "+5", "12x", " 7", "0x10", "4294967295", "99999999999999999999"}) {
        INFO(bad);
        auto parsed = skiff::parse_numeric_id(bad, "--uid");
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().message.starts_with("--uid: "));
    }
    CHECK_THAT(skiff::parse_numeric_id("nobody", "--uid").error().message,
               Catch::Contains("not a number") && Catch::Contains("id -u nobody"));
}

TEST_CASE("uid and gid come together; the chroot must be a directory", "[privileges]") {
    skiff::Privileges privileges;
    CHECK(skiff::check_privileges(privileges).ok());
    privileges.uid = 65534;
    CHECK_THAT(skiff::check_privileges(privileges).error().message, Catch::Contains("needs --gid"));
    privileges.gid = 65534;
    CHECK(skiff::check_privileges(privileges).ok());
    privileges.uid.reset();
    CHECK_THAT(skiff::check_privileges(privileges).error().message, Catch::Contains("needs --uid"));
    privileges = {};
    privileges.chroot = "/nonexistent/jail";
    CHECK_THAT(skiff::check_privileges(privileges).error().message, Catch::Contains("create the directory"));
    privileges.chroot = "/proc/self/status";
    CHECK_THAT(skiff::check_privileges(privileges).error().message, Catch::Contains("not a directory"));
    privileges.chroot = "/";
    CHECK(skiff::check_privileges(privileges).ok());
}

TEST_CASE("privilege flags on run and in API mode", "[privileges][cli]") {
    auto run = parse({"run", "--uid", "65534", "--gid", "100", "--chroot", "/"});
    REQUIRE(run.ok());
    const skiff::Privileges& dropped = run.value()->vm.privileges;
    CHECK(dropped.uid == 65534u);
    CHECK(dropped.gid == 100u);
    CHECK(dropped.chroot == "/");

    auto before_run = parse({"--uid", "1", "--gid", "2", "run"});
    REQUIRE(before_run.ok());
    CHECK(before_run.value()->vm.privileges.uid == 1u);
    CHECK(before_run.value()->vm.privileges.gid == 2u);

    auto api = parse({"--api-sock", "/tmp/x.sock", "--uid", "7", "--gid", "8", "--chroot", "/"});
    REQUIRE(api.ok());
    CHECK(api.value()->mode == skiff::CommandLine::Mode::Api);
    CHECK(api.value()->api.privileges.uid == 7u);
    CHECK(api.value()->api.privileges.gid == 8u);
    CHECK(api.value()->api.privileges.chroot == "/");

    auto none = parse({"run"});
    REQUIRE(none.ok());
    CHECK_FALSE(none.value()->vm.privileges.any());
}

TEST_CASE("bad privilege flags are usage errors", "[privileges][cli]") {
    for (const auto& words : std::vector<std::vector<std::string>>{
             {"run", "--uid", "65534"},
             {"run", "--gid", "65534"},
             {"run", "--uid", "nobody", "--gid", "65534"},
             {"run", "--uid", "65534", "--gid", "nogroup"},
             {"run", "--uid", "-1", "--gid", "0"},
             {"run", "--chroot", "/nonexistent/jail"},
             {"--uid", "65534"},
             {"--chroot", "/nonexistent/jail"},
         }) {
        auto parsed = parse(words);
        REQUIRE_FALSE(parsed.ok());
        CHECK(parsed.error().status == skiff::ExitStatus::UsageError);
    }
}

TEST_CASE("no privileges: nothing is dropped", "[privileges]") {
    uid_t before = ::geteuid();
    CHECK(skiff::drop_privileges(skiff::Privileges{}).ok());
    CHECK(::geteuid() == before);
}
