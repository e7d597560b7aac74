// Ctrl-Alt-Del against a real Linux kernel: hidden from the default run
// (tag [.]): linux_ctrl_alt_del.sh runs it with Debian's kernel (i8042,
// atkbd and the VT keyboard built in) and an initramfs whose /init spins.
#include "running_vm.h"

#include <cstdlib>

using namespace std::chrono_literals;

TEST_CASE("Ctrl-Alt-Del reboots Linux through its i8042 and atkbd drivers", "[.][linux]") {
    const char* kernel = std::getenv("SKIFF_TEST_KERNEL");
    const char* initrd = std::getenv("SKIFF_TEST_INITRD");
    if (kernel == nullptr || initrd == nullptr) {
        FAIL("set SKIFF_TEST_KERNEL and SKIFF_TEST_INITRD");
    }
    skiff::VmConfig config;
    config.kernel_path = kernel;
    config.initrd_path = initrd;
    config.memory_mib = 512;
    config.serial.output = skiff::SerialOutput::Capture;
    config.timeout_seconds = 1500;
    skiff::test::RunningVm vm(config);
    vm.start();
    // The ACPI DSDT names the controller (PNP0303), i8042 finds it, atkbd
    // probes the keyboard (identify: ab 83) behind the translating port.
    const bool keyboard = vm.console().wait_for("input: AT Translated Set 2 keyboard", 1200s);
    INFO(vm.machine().console_output());
    REQUIRE(keyboard);
    CHECK_THAT(vm.machine().console_output(), Catch::Contains("PNP: PS/2 Controller [PNP0303"));
    REQUIRE(vm.console().wait_for("Run /init as init process", 600s));
    REQUIRE(vm.machine().send_ctrl_alt_del().ok());
    // No init took Ctrl-Alt-Del over (C_A_D still 1): the kernel restarts at
    // once, with reboot=k through the i8042, which ends the VM.
    auto report = vm.wait_for_end(300s);
    REQUIRE(report);
    CHECK(report->status == skiff::ExitStatus::GuestShutdown);
    CHECK(report->message == "guest reset through the i8042");
}
