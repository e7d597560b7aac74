// A test harness built on libskiff: boots skiff's test guest, waits for its
// boot line on the captured console, pauses it and checks that it is
// quiet, resumes it, then stops it and reports how it ended.
//
//   harness [KERNEL]   (default: the test guest embedded in libskiff)
//
// Exit status 0 when every step worked; otherwise 1, with the step named.
#include <skiff/skiff.h>

#include <chrono>
#include <cstdio>
#include <string>
#include <thread>

namespace {

using namespace std::chrono_literals;

int fail(const char* step, const std::string& why) {
    std::fprintf(stderr, "harness: %s: %s\n", step, why.c_str());
    return 1;
}

// Polls the console until `text` appears or `limit` passes.
bool wait_for_console(const skiff::Vm& vm, const std::string& text, std::chrono::milliseconds limit) {
    auto deadline = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < deadline) {
        if (vm.console_output().find(text) != std::string::npos) {
            return true;
        }
        std::this_thread::sleep_for(10ms);
    }
    return false;
}

}  // namespace

int main(int argc, char** argv) {
    std::printf("libskiff %s\n", skiff::Vm::version());
    skiff::Vm vm("harness-vm");
    if (argc > 1) {
        skiff::BootSource boot;
        boot.kernel_image_path = argv[1];
        if (auto status = vm.set_boot_source(boot); !status) {
            return fail("set_boot_source", status.message());
        }
    }
    skiff::BootSource boot = vm.resources().boot_source.value_or(skiff::BootSource{});
    // testguest.mode=tick: the guest prints a counter every few ms.
    boot.boot_args = "console=ttyS0 testguest.mode=tick";
    if (auto status = vm.set_boot_source(boot); !status) {
        return fail("set_boot_source", status.message());
    }
    skiff::MachineConfig machine;
    machine.vcpu_count = 1;
    machine.mem_size_mib = 64;
    if (auto status = vm.set_machine_config(machine); !status) {
        return fail("set_machine_config", status.message());
    }
    if (auto status = vm.set_timeout(60s); !status) {
        return fail("set_timeout", status.message());
    }
    if (auto status = vm.start(); !status) {
        return fail("start", status.message());
    }
    if (!wait_for_console(vm, "tick", 20s)) {
        return fail("boot", "no tick on the console within 20 s:\n" + vm.console_output());
    }
    std::printf("booted: %s\n", skiff::vm_state_name(vm.state()));

    if (auto status = vm.pause(); !status) {
        return fail("pause", status.message());
    }
    size_t paused_length = vm.console_output().size();
    std::this_thread::sleep_for(300ms);
    if (vm.console_output().size() != paused_length) {
        return fail("pause", "the console grew while the VM was paused");
    }
    std::printf("paused: %s, console quiet for 300 ms\n", skiff::vm_state_name(vm.state()));

    if (auto status = vm.resume(); !status) {
        return fail("resume", status.message());
    }
    auto deadline = std::chrono::steady_clock::now() + 10s;
    while (vm.console_output().size() == paused_length && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(10ms);
    }
    if (vm.console_output().size() == paused_length) {
        return fail("resume", "the console stayed quiet after resume");
    }
    std::printf("resumed: %s, console moving again\n", skiff::vm_state_name(vm.state()));

    vm.stop();
    skiff::ExitInfo end = vm.wait();
    std::printf("ended: status %d (%s)\n", end.status, end.reason.c_str());
    return end.status == 0 ? 0 : fail("stop", "exit status " + std::to_string(end.status));
}
