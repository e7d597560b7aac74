// What VmInstance refuses when it is given it (PUT, the config file,
// libskiff), rather than at InstanceStart: no KVM needed.
#include "vmm/vm_instance.h"

#include <catch2/catch.hpp>

#include <string>

namespace {

skiff::NetworkInterface tap(const std::string& id, const std::string& name) {
    skiff::NetworkInterface interface;
    interface.iface_id = id;
    interface.host_dev_name = name;
    return interface;
}

}  // namespace

TEST_CASE("a second interface on one tap or MAC is refused at its PUT", "[vm_instance]") {
    skiff::VmInstance instance(skiff::VmInstanceOptions{});
    REQUIRE(instance.set_network_interface(tap("eth0", "tap0")).ok());
    auto again = instance.set_network_interface(tap("eth1", "tap0"));
    REQUIRE_FALSE(again.ok());
    CHECK(again.message() ==
          "eth0 and eth1 both use the host interface 'tap0': give each interface its own tap or macvtap");
    // The same id replaces its interface: no clash with itself.
    CHECK(instance.set_network_interface(tap("eth0", "tap0")).ok());
    CHECK(instance.set_network_interface(tap("eth0", "tap9")).ok());
    CHECK(instance.set_network_interface(tap("eth1", "tap0")).ok());

    auto mac = tap("eth2", "tap2");
    mac.guest_mac = "02:00:00:00:00:01";
    REQUIRE(instance.set_network_interface(mac).ok());
    auto same_mac = tap("eth3", "tap3");
    same_mac.guest_mac = "02:00:00:00:00:01";
    auto refused = instance.set_network_interface(same_mac);
    REQUIRE_FALSE(refused.ok());
    CHECK_THAT(refused.message(), Catch::StartsWith("eth2 and eth3 both use the guest MAC 02:00:00:00:00:01"));
    CHECK(instance.resources().network_interfaces.size() == 3);
}

TEST_CASE("the 17th virtio-mmio interface is refused at its PUT", "[vm_instance]") {
    skiff::VmInstance instance(skiff::VmInstanceOptions{});
    for (int i = 0; i < 16; ++i) {
        REQUIRE(instance.set_network_interface(tap("eth" + std::to_string(i), "tap" + std::to_string(i))).ok());
    }
    auto seventeenth = instance.set_network_interface(tap("eth16", "tap16"));
    REQUIRE_FALSE(seventeenth.ok());
    CHECK_THAT(seventeenth.message(), Catch::StartsWith("17 interfaces are on virtio-mmio"));
    auto on_pci = tap("eth16", "tap16");
    on_pci.transport = "pci";
    CHECK(instance.set_network_interface(on_pci).ok());
}

TEST_CASE("cpu templates, boot_args, timeouts and output paths are checked when given", "[vm_instance]") {
    skiff::VmInstance instance(skiff::VmInstanceOptions{});
    skiff::MachineConfig machine;
    machine.cpu_template = "T2";
    auto unknown = instance.set_machine_config(machine);
    REQUIRE_FALSE(unknown.ok());
    CHECK_THAT(unknown.message(), Catch::Contains("unknown CPU template 'T2'"));
    machine.cpu_template = "None";
    CHECK(instance.set_machine_config(machine).ok());
    machine.cpu_template = "baseline";
    CHECK(instance.set_machine_config(machine).ok());

    skiff::BootSource boot;
    boot.kernel_image_path = "/boot/vmlinuz";
    boot.boot_args = std::string(65536, 'x');
    auto long_args = instance.set_boot_source(boot);
    REQUIRE_FALSE(long_args.ok());
    CHECK(long_args.message() == "boot_args is 65536 bytes; skiff passes at most 65535");

    CHECK_FALSE(instance.set_timeout(0).ok());
    CHECK_FALSE(instance.set_timeout(1e300).ok());
    CHECK(instance.set_timeout(2.5).ok());

    auto metrics = instance.set_metrics(skiff::MetricsConfig{"/nonexistent-skiff-dir/metrics.json"});
    REQUIRE_FALSE(metrics.ok());
    CHECK(metrics.message() == "metrics_path /nonexistent-skiff-dir/metrics.json: directory /nonexistent-skiff-dir "
                               "does not exist: create it first");
    skiff::LoggerConfig logger;
    logger.log_path = "/nonexistent-skiff-dir/sub/skiff.log";
    auto log = instance.set_logger(logger);
    REQUIRE_FALSE(log.ok());
    CHECK(log.message() == "log_path /nonexistent-skiff-dir/sub/skiff.log: directory /nonexistent-skiff-dir/sub "
                           "does not exist: create it first");
}
