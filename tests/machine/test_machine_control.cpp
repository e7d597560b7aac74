// Pause, resume and Ctrl-Alt-Del on a running test guest, with its console
// captured in memory: what the REST API and the C++ library do to a Machine
// from another thread while Machine::run() runs.
#include "running_vm.h"

#include <sched.h>

#include <regex>
#include <thread>

using namespace std::chrono_literals;
using skiff::ExitStatus;
using skiff::Machine;
using skiff::test::RunningVm;
using skiff::test::testguest_config;

namespace {

constexpr auto kBootTimeout = 30s;

// The numbers of the complete "tick N" lines, in order.
std::vector<uint64_t> tick_numbers(const std::string& output) {
    static const std::regex line("skiff-testguest: tick ([0-9]+)\n");
    std::vector<uint64_t> numbers;
    for (auto match = std::sregex_iterator(output.begin(), output.end(), line); match != std::sregex_iterator();
         ++match) {
        numbers.push_back(std::stoull((*match)[1].str()));
    }
    return numbers;
}

}  // namespace

TEST_CASE("pause stops every vCPU, resume restarts them where they were", "[kvm][pause]") {
    const uint32_t cpus = GENERATE(1u, 2u);
    INFO(cpus << " vCPU(s)");
    RunningVm vm(testguest_config("tick", cpus));
    Machine& machine = vm.machine();
    CHECK_FALSE(machine.paused());
    CHECK(machine.resume().ok());  // resuming a running VM: nothing to do
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: tick 2\n", kBootTimeout));

    REQUIRE(machine.pause().ok());
    CHECK(machine.paused());
    const uint64_t at_pause = vm.console().total_bytes();
    std::this_thread::sleep_for(300ms);
    CHECK(vm.console().total_bytes() == at_pause);  // not one byte while paused
    CHECK(machine.pause().ok());                    // pausing a paused VM: nothing to do
    CHECK(machine.paused());
    CHECK(machine.paused_duration() >= 300ms);

    REQUIRE(machine.resume().ok());
    CHECK_FALSE(machine.paused());
    const auto paused_for = machine.paused_duration();
    CHECK(vm.console().wait_for("skiff-testguest: tick", 10s, at_pause));
    REQUIRE(vm.console().wait_for("\n", 10s, vm.console().total_bytes()));
    CHECK(machine.paused_duration() == paused_for);  // the clock stopped at resume

    // The guest went on from where it stopped: no tick lost or repeated.
    const std::vector<uint64_t> ticks = tick_numbers(vm.console().contents());
    REQUIRE(ticks.size() >= 4);
    for (size_t index = 0; index < ticks.size(); ++index) {
        CHECK(ticks[index] == index);
    }

    // A second pause and resume behave the same.
    REQUIRE(machine.pause().ok());
    const uint64_t again = vm.console().total_bytes();
    std::this_thread::sleep_for(50ms);
    CHECK(vm.console().total_bytes() == again);
    REQUIRE(machine.resume().ok());
    CHECK(vm.console().wait_for("skiff-testguest: tick", 10s, again));
    CHECK(machine.paused_duration() > paused_for);
}

TEST_CASE("many quick pauses and resumes from two threads neither hang nor lose the guest", "[kvm][pause]") {
    RunningVm vm(testguest_config("tick", 2));
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: tick 0\n", kBootTimeout));
    auto cycle = [&vm] {
        for (int index = 0; index < 100; ++index) {
            REQUIRE(vm.machine().pause().ok());
            REQUIRE(vm.machine().resume().ok());
        }
    };
    auto started = std::chrono::steady_clock::now();
    std::thread other(cycle);
    cycle();
    other.join();
    CHECK(std::chrono::steady_clock::now() - started < 20s);
    CHECK_FALSE(vm.machine().paused());
    const uint64_t now = vm.console().total_bytes();
    CHECK(vm.console().wait_for("skiff-testguest: tick", 10s, now));
}

TEST_CASE("a stop request ends a paused VM promptly", "[kvm][pause]") {
    RunningVm vm(testguest_config("tick", 2));
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: tick 1\n", kBootTimeout));
    REQUIRE(vm.machine().pause().ok());
    auto requested = std::chrono::steady_clock::now();
    vm.machine().lifecycle().request_stop(ExitStatus::GuestShutdown, "stopped while paused");
    auto report = vm.wait_for_end(5s);
    REQUIRE(report);
    CHECK(std::chrono::steady_clock::now() - requested < 1s);
    CHECK(report->status == ExitStatus::GuestShutdown);
    CHECK(report->message == "stopped while paused");
    auto refused = vm.machine().pause();
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.error().message, Catch::Contains("stopping"));
    CHECK_FALSE(vm.machine().resume().ok());
}

TEST_CASE("--timeout counts the time the VM runs, not the time it is paused", "[kvm][pause][timeout]") {
    auto config = testguest_config("tick");
    config.timeout_seconds = 1.0;
    RunningVm vm(config);
    auto started = std::chrono::steady_clock::now();
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: tick 0\n", kBootTimeout));
    REQUIRE(vm.machine().pause().ok());
    // Paused across the original deadline: the VM must still be there.
    std::this_thread::sleep_for(1500ms);
    CHECK_FALSE(vm.wait_for_end(0ms));
    REQUIRE(vm.machine().resume().ok());
    auto report = vm.wait_for_end(10s);
    REQUIRE(report);
    auto lived = std::chrono::steady_clock::now() - started;
    CHECK(report->status == ExitStatus::Timeout);
    // About 1 s of running plus 1.5 s paused (and the boot before the pause).
    CHECK(lived >= 2400ms);
    CHECK(lived < 6s);
}

TEST_CASE("a VM paused before it runs starts with its vCPUs parked", "[kvm][pause]") {
    RunningVm vm(testguest_config("tick"));
    REQUIRE(vm.machine().pause().ok());
    CHECK(vm.machine().paused());
    vm.start();
    std::this_thread::sleep_for(200ms);
    CHECK(vm.console().total_bytes() == 0);  // not even "booted"
    REQUIRE(vm.machine().resume().ok());
    CHECK(vm.console().wait_for("skiff-testguest: booted", kBootTimeout));
    CHECK(vm.console().wait_for("skiff-testguest: tick 0\n", kBootTimeout));
}

TEST_CASE("Ctrl-Alt-Del makes the test guest reset, which ends the VM", "[kvm][ctrl-alt-del]") {
    RunningVm vm(testguest_config("tick"));
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: tick 1\n", kBootTimeout));
    REQUIRE(vm.machine().send_ctrl_alt_del().ok());
    auto report = vm.wait_for_end(10s);
    REQUIRE(report);
    CHECK(report->status == ExitStatus::GuestShutdown);
    CHECK(report->message == "guest reset through the i8042");
    CHECK_THAT(vm.machine().console_output(), Catch::Contains("skiff-testguest: ctrl-alt-del\n"));
    CHECK_FALSE(vm.machine().send_ctrl_alt_del().ok());  // the VM has stopped
}

TEST_CASE("Ctrl-Alt-Del sent to a paused VM waits in the i8042 until it resumes", "[kvm][ctrl-alt-del][pause]") {
    RunningVm vm(testguest_config("tick"));
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: tick 1\n", kBootTimeout));
    REQUIRE(vm.machine().pause().ok());
    REQUIRE(vm.machine().send_ctrl_alt_del().ok());
    CHECK_FALSE(vm.wait_for_end(200ms));
    CHECK_THAT(vm.machine().console_output(), !Catch::Contains("ctrl-alt-del"));
    REQUIRE(vm.machine().resume().ok());
    auto report = vm.wait_for_end(10s);
    REQUIRE(report);
    CHECK(report->status == ExitStatus::GuestShutdown);
    CHECK_THAT(vm.machine().console_output(), Catch::Contains("skiff-testguest: ctrl-alt-del\n"));
}

// Last: it moves this process into a network namespace of its own (the
// tap skiff creates there disappears with the process).
TEST_CASE("Ctrl-Alt-Del reaches the test guest serving the network", "[kvm][ctrl-alt-del][net]") {
    if (::unshare(CLONE_NEWNET) != 0) {
        WARN("skipped: cannot make a network namespace (needs CAP_SYS_ADMIN)");
        return;
    }
    skiff::net::NetConfig network;
    network.ifname = "skiffcad0";
    auto config = testguest_config("");  // no mode: serve the network
    config.networks = {network};
    RunningVm vm(config);
    vm.start();
    REQUIRE(vm.console().wait_for("skiff-testguest: network ready\n", kBootTimeout));
    REQUIRE(vm.machine().send_ctrl_alt_del().ok());
    auto report = vm.wait_for_end(10s);
    REQUIRE(report);
    CHECK(report->status == ExitStatus::GuestShutdown);
    CHECK_THAT(vm.machine().console_output(), Catch::Contains("skiff-testguest: ctrl-alt-del\n"));
}
