#include "vmm/api/json_model.h"
#include "vmm/api/json_reader.h"
#include "vmm/api/network_interface.h"

#include <catch2/catch.hpp>

#include <string>

using namespace skiff;
using namespace skiff::api;

namespace {

// The error message of a result that must have failed.
template <typename T>
std::string error_of(const Result<T>& result) {
    REQUIRE_FALSE(result.ok());
    return result.error().message;
}

}  // namespace

TEST_CASE("JSON documents: syntax, duplicates, depth", "[api][json]") {
    CHECK(parse_json(R"({"a": [1, 2, {"b": null}]})").ok());
    CHECK_THAT(error_of(parse_json("{")), Catch::StartsWith("invalid JSON: parse error at line 1, column 2"));
    CHECK_THAT(error_of(parse_json(R"({"a": 1} x)")), Catch::StartsWith("invalid JSON"));
    CHECK_THAT(error_of(parse_json("{\"a\": \"\xff\"}")), Catch::StartsWith("invalid JSON"));
    CHECK_THAT(error_of(parse_json("{\"a\": 1 /* no */}")), Catch::StartsWith("invalid JSON"));
    CHECK(error_of(parse_json(R"({"a": 1, "b": {"a": 2, "a": 3}})")) == "field 'a' is given twice in one object");
    CHECK(parse_json(R"({"a": {"x": 1}, "b": {"x": 2}})").ok());  // the same key in two objects
    std::string deep(kMaxJsonDepth, '[');
    deep += std::string(kMaxJsonDepth, ']');
    CHECK(parse_json(deep).ok());
    std::string too_deep(100000, '[');
    CHECK_THAT(error_of(parse_json(too_deep)), Catch::Contains("nests deeper than 16 levels"));
    CHECK(describe_json(nlohmann::json(std::string(100, 'x'))).size() < 50);
}

// Found by fuzz_api (tests/fuzz/regressions/fuzz_api): a key with an escaped
// newline put a raw newline into the one-line error message.
TEST_CASE("JSON keys in error messages are escaped: messages stay one line", "[api][json]") {
    CHECK(error_of(parse_json(R"({"a\nb": 1, "a\nb": 2})")) == R"(field 'a\nb' is given twice in one object)");
    std::string unknown = error_of(parse_boot_source(R"({"kernel_image_path": "k", "x\ny\u0001\"": 1})"));
    CHECK_THAT(unknown, Catch::StartsWith(R"(unknown field 'x\ny\u0001\"' (valid fields: )"));
    CHECK(unknown.find('\n') == std::string::npos);
    std::string huge_pages = error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M\n"})"));
    CHECK(huge_pages.find('\n') == std::string::npos);
    CHECK(printable_text("plain") == "plain");
    CHECK(printable_text("tab\there") == R"(tab\there)");
}

TEST_CASE("PUT /boot-source bodies", "[api][json]") {
    auto source = parse_boot_source(
        R"({"kernel_image_path": "/k/vmlinux", "boot_args": "console=ttyS0", "initrd_path": "/k/initrd"})");
    REQUIRE(source.ok());
    CHECK(source->kernel_image_path == "/k/vmlinux");
    CHECK(source->boot_args == "console=ttyS0");
    CHECK(source->initrd_path == "/k/initrd");

    auto minimal = parse_boot_source(R"({"kernel_image_path": "", "boot_args": null})");
    REQUIRE(minimal.ok());
    CHECK(minimal->kernel_image_path.empty());  // the embedded test guest
    CHECK_FALSE(minimal->boot_args);
    CHECK_FALSE(minimal->initrd_path);

    CHECK(error_of(parse_boot_source("")) == "the request needs a JSON body");
    CHECK(error_of(parse_boot_source("{}")) == "missing required field 'kernel_image_path' (a string)");
    CHECK(error_of(parse_boot_source(R"({"kernel_image_path": null})")) ==
          "missing required field 'kernel_image_path' (a string)");
    CHECK(error_of(parse_boot_source(R"({"kernel_image_path": 5})")) ==
          "field 'kernel_image_path': expected a string, got 5");
    CHECK(error_of(parse_boot_source(R"({"kernel_image_path": "k", "kernel": "x"})")) ==
          "unknown field 'kernel' (valid fields: kernel_image_path, boot_args, initrd_path)");
    CHECK(error_of(parse_boot_source(R"({"kernel_image_path": "k", "initrd_path": ""})")) ==
          "field 'initrd_path' is empty: give a path or leave the field out");
    CHECK(error_of(parse_boot_source(R"(["kernel_image_path"])")) == "the body must be a JSON object, got an array");
}

// A NUL in a string would cut a path where the C library reads it:
// ".../testguest.elf\u0000/etc/shadow" loaded testguest.elf. Every string
// field refuses one, naming the field, in API bodies and config files.
TEST_CASE("a NUL in any string field is refused, naming the field", "[api][json]") {
    CHECK(error_of(parse_boot_source(R"({"kernel_image_path": "/k/testguest.elf\u0000/etc/shadow"})")) ==
          "field 'kernel_image_path' holds a NUL character (\\u0000, at offset 16), which no path or name may hold");
    CHECK_THAT(error_of(parse_boot_source(R"({"kernel_image_path": "k", "initrd_path": "/i\u0000"})")),
               Catch::StartsWith("field 'initrd_path' holds a NUL"));
    CHECK_THAT(error_of(parse_boot_source(R"({"kernel_image_path": "k", "boot_args": "a\u0000b"})")),
               Catch::StartsWith("field 'boot_args' holds a NUL"));
    CHECK_THAT(error_of(parse_logger(R"({"log_path": "/tmp/log\u0000x"})")), Catch::StartsWith("field 'log_path'"));
    CHECK_THAT(error_of(parse_metrics(R"({"metrics_path": "\u0000"})")), Catch::StartsWith("field 'metrics_path'"));
    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": "eth0", "host_dev_name": "tap\u00000"})")),
               Catch::StartsWith("field 'host_dev_name' holds a NUL"));
    CHECK_THAT(error_of(parse_config_file(R"({"boot-source": {"kernel_image_path": "\u0000"}})")),
               Catch::Contains("field 'kernel_image_path' holds a NUL"));
    // Other control characters in a path are the file system's business
    // (a file name may hold a newline); the log escapes them.
    CHECK(parse_boot_source(R"({"kernel_image_path": "/k/a\nb"})").ok());
}

TEST_CASE("PUT /machine-config bodies", "[api][json]") {
    auto config = parse_machine_config(
        R"({"vcpu_count": 2, "mem_size_mib": 1024, "smt": true, "cpu_template": "T2", "track_dirty_pages": false,
            "huge_pages": "None"})");
    REQUIRE(config.ok());
    CHECK(config->vcpu_count == 2);
    CHECK(config->mem_size_mib == 1024);
    CHECK(config->smt);
    CHECK(config->cpu_template == "T2");

    auto defaults = parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 16})");
    REQUIRE(defaults.ok());
    CHECK_FALSE(defaults->smt);
    CHECK_FALSE(defaults->cpu_template);
    CHECK(parse_machine_config(R"({"vcpu_count": 32, "mem_size_mib": 262144})").ok());
    CHECK(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "smt": true})").ok());

    CHECK(error_of(parse_machine_config(R"({"mem_size_mib": 128})")) ==
          "missing required field 'vcpu_count' (an integer from 1 to 32)");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 1})")) ==
          "missing required field 'mem_size_mib' (an integer from 16 to 262144)");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 0, "mem_size_mib": 128})")) ==
          "field 'vcpu_count': expected an integer from 1 to 32, got 0");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 33, "mem_size_mib": 128})")) ==
          "field 'vcpu_count': expected an integer from 1 to 32, got 33");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": -1, "mem_size_mib": 128})")) ==
          "field 'vcpu_count': expected an integer from 1 to 32, got -1");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 1.5, "mem_size_mib": 128})")) ==
          "field 'vcpu_count': expected an integer from 1 to 32, got 1.5");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": "2", "mem_size_mib": 128})")) ==
          "field 'vcpu_count': expected an integer from 1 to 32, got \"2\"");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 15})")) ==
          "field 'mem_size_mib': expected an integer from 16 to 262144, got 15");
    CHECK_THAT(error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 99999999999999999999999})")),
               Catch::StartsWith("field 'mem_size_mib': expected an integer from 16 to 262144, got 9.99"));
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "smt": "yes"})")) ==
          "field 'smt': expected true or false, got \"yes\"");
    CHECK(error_of(parse_machine_config(R"({"vcpu_count": 3, "mem_size_mib": 128, "smt": true})")) ==
          "vcpu_count 3 with smt true: give 1 or an even number, or set smt to false");
    CHECK_THAT(error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "track_dirty_pages": true})")),
               Catch::Contains("skiff does not implement dirty page tracking"));
    CHECK_THAT(error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "huge_pages": "2M"})")),
               Catch::Contains("skiff does not implement huge pages (\"2M\")"));
    CHECK_THAT(error_of(parse_machine_config(R"({"vcpu_count": 1, "mem_size_mib": 128, "vcpus": 2})")),
               Catch::StartsWith("unknown field 'vcpus' (valid fields: vcpu_count, mem_size_mib, smt"));
}

TEST_CASE("PATCH /machine-config changes only the fields given", "[api][json]") {
    MachineConfig current;
    current.vcpu_count = 4;
    current.mem_size_mib = 512;
    current.cpu_template = "T2";
    auto patched = apply_machine_config_patch(current, R"({"mem_size_mib": 2048})");
    REQUIRE(patched.ok());
    CHECK(patched->vcpu_count == 4);
    CHECK(patched->mem_size_mib == 2048);
    CHECK(patched->cpu_template == "T2");

    CHECK_THAT(error_of(apply_machine_config_patch(current, "{}")), Catch::StartsWith("the PATCH changes nothing"));
    CHECK_THAT(error_of(apply_machine_config_patch(current, R"({"smt": null})")),
               Catch::StartsWith("the PATCH changes nothing: give at least one of vcpu_count, mem_size_mib"));
    CHECK(error_of(apply_machine_config_patch(current, R"({"vcpu_count": 40})")) ==
          "field 'vcpu_count': expected an integer from 1 to 32, got 40");
    // The SMT rule holds for the result, not just the fields given.
    current.vcpu_count = 3;
    CHECK_THAT(error_of(apply_machine_config_patch(current, R"({"smt": true})")), Catch::StartsWith("vcpu_count 3"));
}

TEST_CASE("PUT /network-interfaces bodies: Firecracker's fields", "[api][json]") {
    auto interface = parse_network_interface(
        R"({"iface_id": "eth0", "host_dev_name": "tap0", "guest_mac": "AA:FC:00:00:00:01", "mtu": 1500,
            "rx_rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 100}},
            "tx_rate_limiter": {"ops": {"size": 10, "one_time_burst": 5, "refill_time": 1000}, "bandwidth": null}})");
    REQUIRE(interface.ok());
    CHECK(interface->iface_id == "eth0");
    CHECK(interface->host_dev_name == "tap0");
    CHECK(interface->guest_mac == "AA:FC:00:00:00:01");
    CHECK(interface->mtu == 1500u);
    CHECK(interface->mode == "tap");
    CHECK(interface->transport == "mmio");
    REQUIRE(interface->rx_rate_limiter);
    REQUIRE(interface->rx_rate_limiter->bandwidth);
    CHECK(interface->rx_rate_limiter->bandwidth->size == 1000);
    CHECK_FALSE(interface->rx_rate_limiter->bandwidth->one_time_burst);
    CHECK_FALSE(interface->rx_rate_limiter->ops);
    REQUIRE(interface->tx_rate_limiter);
    CHECK_FALSE(interface->tx_rate_limiter->bandwidth);
    CHECK(interface->tx_rate_limiter->ops->one_time_burst == 5u);

    auto error = [](const std::string& fields) {
        return error_of(parse_network_interface(R"({"iface_id": "eth0", "host_dev_name": "tap0", )" + fields + "}"));
    };
    CHECK_THAT(error(R"("guest_mac": "aa:bb")"), Catch::StartsWith("field 'guest_mac': 'aa:bb' is not a MAC address"));
    CHECK_THAT(error(R"("guest_mac": "01:00:5e:00:00:01")"), Catch::Contains("not a unicast interface address"));
    CHECK(error(R"("mtu": 67)") == "field 'mtu': expected an integer from 68 to 65535, got 67");
    CHECK(error(R"("mtu": 65536)") == "field 'mtu': expected an integer from 68 to 65535, got 65536");
    CHECK(error(R"("mtu": 65522)") == "field 'mtu': 65522 is above 65521, the most a tap takes (its Ethernet "
                                      "header must fit in 65535 bytes)");
    CHECK(error(R"("rx_rate_limiter": {"bandwidth": {"size": 100, "refill_time": 0}})") ==
          "field 'rx_rate_limiter.bandwidth.refill_time' must be above 0 when size is 100 (the ms to refill the "
          "bucket)");
    CHECK(error(R"("rx_rate_limiter": {"bandwidth": {"size": -1, "refill_time": 10}})") ==
          "field 'rx_rate_limiter.bandwidth.size': expected a non-negative integer, got -1");
    CHECK(error(R"("tx_rate_limiter": {"ops": {"size": 1}})") ==
          "missing required field 'tx_rate_limiter.ops.refill_time' (an integer from 0 to 18446744073709)");
    CHECK(error(R"("tx_rate_limiter": {"ops": {"size": 1, "refill_time": 18446744073710}})") ==
          "field 'tx_rate_limiter.ops.refill_time': expected an integer from 0 to 18446744073709, got 18446744073710");
    CHECK(error(R"("tx_rate_limiter": {"opps": {}})") ==
          "unknown field 'tx_rate_limiter.opps' (valid fields of tx_rate_limiter: bandwidth, ops)");
    CHECK(error(R"("tx_rate_limiter": 5)") == "tx_rate_limiter must be a JSON object, got 5");
    CHECK(parse_network_interface(R"({"iface_id": "eth0", "host_dev_name": "tap0",
                                      "rx_rate_limiter": {"ops": {"size": 0, "refill_time": 0}}})")
              .ok());  // size 0: no limit

    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": "eth0"})")),
               Catch::Contains("missing required field 'host_dev_name'"));
    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": "eth 0", "host_dev_name": "tap0"})")),
               Catch::StartsWith("iface_id \"eth 0\" is not a valid id"));
    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": "", "host_dev_name": "tap0"})")),
               Catch::Contains("not a valid id"));
    std::string long_id(kMaxIdLength + 1, 'a');
    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": ")" + long_id + R"(", "host_dev_name": "tap0"})")),
               Catch::Contains("not a valid id"));
    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": "eth0", "host_dev_name": ""})")),
               Catch::StartsWith("field 'host_dev_name' is empty: mode tap needs the tap's name"));
    CHECK_THAT(error_of(parse_network_interface(R"({"iface_id": "eth0", "host_dev_name": "a-very-long-tap-name"})")),
               Catch::StartsWith("network interface eth0: ifname: interface name 'a-very-long-tap-name'"));
}

TEST_CASE("PUT /network-interfaces bodies: skiff's fields", "[api][json]") {
    auto macvtap = parse_network_interface(
        R"({"iface_id": "net1", "host_dev_name": "", "mode": "macvtap", "link": "eth1", "macvtap_mode": "vepa",
            "vhost": true, "transport": "pci"})");
    REQUIRE(macvtap.ok());
    CHECK(macvtap->mode == "macvtap");
    CHECK(macvtap->link == "eth1");
    CHECK(macvtap->macvtap_mode == "vepa");
    CHECK(macvtap->vhost == true);
    CHECK(macvtap->transport == "pci");

    auto vfio = parse_network_interface(R"({"iface_id": "vf0", "host_dev_name": "", "mode": "vfio", "pf": "eth1",
                                            "vf": 3, "guest_mac": "02:00:00:00:00:02"})");
    REQUIRE(vfio.ok());
    CHECK(vfio->transport == "pci");
    CHECK(vfio->vf == 3u);
    CHECK(parse_network_interface(R"({"iface_id": "vf0", "host_dev_name": "03:10.2", "mode": "vfio"})").ok());
    CHECK(parse_network_interface(
              R"({"iface_id": "n", "host_dev_name": "tap0", "mode": "vhost", "bridge": "br0", "transport": "pci"})")
              .ok());

    auto error = [](const std::string& body) { return error_of(parse_network_interface(body)); };
    CHECK(error(R"({"iface_id": "n", "host_dev_name": "tap0", "mode": "user"})") ==
          "field 'mode': expected one of tap, vhost, macvtap, vfio, got \"user\"");
    CHECK(error(R"({"iface_id": "n", "host_dev_name": "tap0", "transport": "isa"})") ==
          "field 'transport': expected one of mmio, pci, got \"isa\"");
    CHECK(error(R"({"iface_id": "n", "host_dev_name": "tap0", "link": "eth1"})") ==
          "field 'link' is for mode macvtap only (this interface's mode is tap)");
    CHECK(error(R"({"iface_id": "n", "host_dev_name": "m", "mode": "macvtap", "bridge": "br0"})") ==
          "field 'bridge' is for mode tap or vhost only (this interface's mode is macvtap)");
    CHECK(error(R"({"iface_id": "n", "host_dev_name": "03:10.2", "mode": "vfio", "mtu": 1500})") ==
          "field 'mtu' is for mode tap or vhost or macvtap only (this interface's mode is vfio)");
    CHECK_THAT(error(R"({"iface_id": "n", "host_dev_name": "", "mode": "macvtap"})"),
               Catch::StartsWith("mode macvtap needs 'link'"));
    CHECK_THAT(error(R"({"iface_id": "n", "host_dev_name": "", "mode": "vfio", "pf": "eth1"})"),
               Catch::StartsWith("mode vfio: give 'pf' and 'vf' together"));
    CHECK_THAT(error(R"({"iface_id": "n", "host_dev_name": "", "mode": "vfio"})"),
               Catch::StartsWith("mode vfio needs 'host_dev_name'"));
    CHECK_THAT(error(R"({"iface_id": "n", "host_dev_name": "03:10.2", "mode": "vfio", "transport": "mmio"})"),
               Catch::Contains("always on PCI"));
    CHECK_THAT(error(R"({"iface_id": "n", "host_dev_name": "not-pci", "mode": "vfio"})"),
               Catch::StartsWith("network interface n: device=not-pci: expected a PCI address"));
    CHECK_THAT(error(R"({"iface_id": "n", "host_dev_name": "tap0", "mode": "vhost",
                         "rx_rate_limiter": {"ops": {"size": 10, "refill_time": 10}}})"),
               Catch::StartsWith("network interface n: rate limiters need skiff's own data path"));
    CHECK(error(R"({"iface_id": "n", "host_dev_name": "m", "mode": "macvtap", "vhost": "on"})") ==
          "field 'vhost': expected true or false, got \"on\"");
}

TEST_CASE("network interfaces become NetConfigs", "[api][json]") {
    NetworkInterface tap;
    tap.iface_id = "eth0";
    tap.host_dev_name = "tap0";
    tap.guest_mac = "02:00:00:00:00:01";
    tap.mtu = 9000;
    tap.bridge = "br0";
    tap.transport = "pci";
    tap.rx_rate_limiter = RateLimiter{TokenBucket{1000, 500, 100}, std::nullopt};
    tap.tx_rate_limiter = RateLimiter{std::nullopt, TokenBucket{10, std::nullopt, 1000}};
    auto config = to_net_config(tap);
    REQUIRE(config.ok());
    CHECK(config->mode == net::NetMode::Tap);
    CHECK(config->id == "eth0");
    CHECK(config->ifname == "tap0");
    CHECK(config->bridge == "br0");
    CHECK(config->mac->to_string() == "02:00:00:00:00:01");
    CHECK(config->mtu == 9000u);
    CHECK(config->transport == net::NetTransport::Pci);
    REQUIRE(config->rx_rate_limiter.bandwidth);
    CHECK(config->rx_rate_limiter.bandwidth->size == 1000);
    CHECK(config->rx_rate_limiter.bandwidth->one_time_burst == 500);
    CHECK(config->rx_rate_limiter.bandwidth->refill_time_ms == 100);
    CHECK_FALSE(config->rx_rate_limiter.ops);
    REQUIRE(config->tx_rate_limiter.ops);
    CHECK(config->tx_rate_limiter.ops->one_time_burst == 0);

    NetworkInterface macvtap;
    macvtap.iface_id = "m";
    macvtap.mode = "macvtap";
    macvtap.host_dev_name = "macvtap7";
    macvtap.link = "eth1";
    macvtap.macvtap_mode = "passthru";
    macvtap.vhost = false;
    auto macvtap_config = to_net_config(macvtap);
    REQUIRE(macvtap_config.ok());
    CHECK(macvtap_config->ifname == "macvtap7");
    CHECK(macvtap_config->link == "eth1");
    CHECK(macvtap_config->macvtap_mode == net::MacvtapMode::Passthru);
    CHECK_FALSE(macvtap_config->vhost);

    NetworkInterface vfio;
    vfio.iface_id = "v";
    vfio.mode = "vfio";
    vfio.host_dev_name = "label";  // only a label when pf/vf are given
    vfio.pf = "eth1";
    vfio.vf = 2;
    auto vfio_config = to_net_config(vfio);
    REQUIRE(vfio_config.ok());
    CHECK(vfio_config->device.empty());
    CHECK(vfio_config->pf == "eth1");
    CHECK(vfio_config->vf == 2u);
    CHECK(vfio_config->transport == net::NetTransport::Pci);
    vfio.pf.reset();
    vfio.vf.reset();
    vfio.host_dev_name = "0000:03:10.2";
    CHECK(to_net_config(vfio)->device == "0000:03:10.2");

    NetworkInterface vhost = tap;
    vhost.mode = "vhost";
    CHECK_THAT(error_of(to_net_config(vhost)), Catch::StartsWith("network interface eth0: rate limiters need"));
    vhost.rx_rate_limiter.reset();
    vhost.tx_rate_limiter = RateLimiter{TokenBucket{0, std::nullopt, 0}, std::nullopt};  // limits nothing
    CHECK(to_net_config(vhost).ok());
}

TEST_CASE("PATCH /network-interfaces, logger, metrics, vm and action bodies", "[api][json]") {
    auto update = parse_network_interface_update(
        R"({"iface_id": "eth0", "tx_rate_limiter": {"bandwidth": {"size": 5, "refill_time": 1}}})");
    REQUIRE(update.ok());
    CHECK(update->iface_id == "eth0");
    CHECK_FALSE(update->rx_rate_limiter);
    CHECK(update->tx_rate_limiter->bandwidth->size == 5);
    CHECK_THAT(error_of(parse_network_interface_update(R"({"iface_id": "eth0", "host_dev_name": "tap1"})")),
               Catch::StartsWith("unknown field 'host_dev_name'"));
    CHECK_THAT(error_of(parse_network_interface_update(R"({"rx_rate_limiter": {}})")),
               Catch::StartsWith("missing required field 'iface_id'"));

    auto logger = parse_logger(R"({"log_path": "/tmp/log", "level": "warning", "show_level": true,
                                   "show_log_origin": false, "module": "api"})");
    REQUIRE(logger.ok());
    CHECK(logger->level == "Warning");
    CHECK(logger->show_level == true);
    CHECK(logger->module == "api");
    CHECK(parse_logger("{}").ok());
    CHECK(parse_logger(R"({"level": "TRACE"})")->level == "Trace");
    CHECK(error_of(parse_logger(R"({"level": "verbose"})")) ==
          "field 'level': expected one of Error, Warning, Info, Debug, Trace, Off, got \"Verbose\"");

    CHECK(parse_metrics(R"({"metrics_path": "/tmp/metrics.fifo"})")->metrics_path == "/tmp/metrics.fifo");
    CHECK_THAT(error_of(parse_metrics("{}")), Catch::StartsWith("missing required field 'metrics_path'"));
    CHECK_THAT(error_of(parse_metrics(R"({"metrics_path": ""})")), Catch::Contains("is empty"));

    CHECK(*parse_vm_state_patch(R"({"state": "Paused"})") == RequestedVmState::Paused);
    CHECK(*parse_vm_state_patch(R"({"state": "Resumed"})") == RequestedVmState::Resumed);
    CHECK(error_of(parse_vm_state_patch(R"({"state": "paused"})")) ==
          "field 'state': expected one of Paused, Resumed, got \"paused\"");

    CHECK(*parse_action(R"({"action_type": "InstanceStart"})") == ActionType::InstanceStart);
    CHECK(*parse_action(R"({"action_type": "SendCtrlAltDel"})") == ActionType::SendCtrlAltDel);
    CHECK(*parse_action(R"({"action_type": "FlushMetrics"})") == ActionType::FlushMetrics);
    CHECK(error_of(parse_action(R"({"action_type": "Reboot"})")) ==
          "field 'action_type': expected one of InstanceStart, SendCtrlAltDel, FlushMetrics, got \"Reboot\"");
    CHECK_THAT(error_of(parse_action(R"({"action_type": "InstanceStart", "payload": 1})")),
               Catch::StartsWith("unknown field 'payload'"));
    CHECK(error_of(parse_action("null")) == "the body must be a JSON object, got null");
}

TEST_CASE("config files in Firecracker's format", "[api][json][config_file]") {
    auto resources = parse_config_file(R"({
        "boot-source": {"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1"},
        "drives": [],
        "machine-config": {"vcpu_count": 2, "mem_size_mib": 1024, "smt": false},
        "network-interfaces": [
            {"iface_id": "eth0", "guest_mac": "AA:FC:00:00:00:01", "host_dev_name": "tap0"},
            {"iface_id": "eth1", "host_dev_name": "tap1", "mode": "vhost", "transport": "pci"}
        ],
        "logger": {"level": "Info"},
        "metrics": {"metrics_path": "/tmp/m"},
        "vsock": null, "balloon": null
    })");
    REQUIRE(resources.ok());
    CHECK(resources->boot_source->kernel_image_path == "vmlinux");
    CHECK(resources->machine_config.vcpu_count == 2);
    REQUIRE(resources->network_interfaces.size() == 2);
    CHECK(resources->network_interfaces[1].mode == "vhost");
    CHECK(resources->logger->level == "Info");
    CHECK(resources->metrics->metrics_path == "/tmp/m");

    auto empty = parse_config_file("{}");
    REQUIRE(empty.ok());
    CHECK_FALSE(empty->boot_source);
    CHECK(empty->machine_config.vcpu_count == 1);
    CHECK(empty->network_interfaces.empty());

    CHECK(error_of(parse_config_file(R"({"drives": [{"drive_id": "rootfs"}]})")) ==
          "skiff does not implement \"drives\" (block devices): remove that section or leave it an empty array");
    CHECK(error_of(parse_config_file(R"({"vsock": {"guest_cid": 3, "uds_path": "/v"}})")) ==
          "skiff does not implement \"vsock\" (vsock devices): remove that section");
    for (const char* section :
         {"balloon", "mmds-config", "entropy", "cpu-config", "pmem", "memory-hotplug", "serial"}) {
        INFO(section);
        CHECK_THAT(error_of(parse_config_file(fmt::format(R"({{"{}": {{"x": 1}}}})", section))),
                   Catch::StartsWith(fmt::format("skiff does not implement \"{}\"", section)));
    }
    CHECK_THAT(error_of(parse_config_file(R"({"boot_source": {}})")),
               Catch::StartsWith(
                   "config file: unknown field 'boot_source' (valid fields: boot-source, machine-config"));
    CHECK(error_of(parse_config_file(R"({"machine-config": {"vcpu_count": 99, "mem_size_mib": 128}})")) ==
          "machine-config: field 'vcpu_count': expected an integer from 1 to 32, got 99");
    CHECK(error_of(parse_config_file(R"({"boot-source": {}})")) ==
          "boot-source: missing required field 'kernel_image_path' (a string)");
    CHECK(error_of(parse_config_file(R"({"network-interfaces": {"iface_id": "eth0"}})")) ==
          "network-interfaces must be an array of interfaces, got an object");
    CHECK(error_of(parse_config_file(R"({"network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0"},
                                                                 {"iface_id": "eth0", "host_dev_name": "tap1"}]})")) ==
          "network-interfaces[1]: iface_id \"eth0\" is used twice: give each interface its own");
    CHECK(error_of(parse_config_file(R"({"network-interfaces": [{"iface_id": "eth0", "host_dev_name": "tap0",
                                                                  "mtu": 1}]})")) ==
          "network-interfaces[0]: field 'mtu': expected an integer from 68 to 65535, got 1");
    CHECK(error_of(parse_config_file(R"({"logger": {"level": 3}})")) ==
          "logger: field 'level': expected a string, got 3");
    CHECK_THAT(error_of(parse_config_file(R"({"metrics": {}})")), Catch::StartsWith("metrics: missing required"));
    CHECK_THAT(error_of(parse_config_file("[]")), Catch::StartsWith("config file: the body must be a JSON object"));
}

TEST_CASE("GET /vm/config's JSON reads back as a config file", "[api][json][config_file]") {
    VmResources resources;
    resources.boot_source = BootSource{"/k", "console=ttyS0", std::nullopt};
    resources.machine_config.vcpu_count = 2;
    resources.machine_config.cpu_template = "None";
    NetworkInterface tap;
    tap.iface_id = "eth0";
    tap.host_dev_name = "tap0";
    tap.guest_mac = "02:00:00:00:00:01";
    tap.rx_rate_limiter = RateLimiter{TokenBucket{1000, 10, 100}, TokenBucket{5, std::nullopt, 50}};
    NetworkInterface vfio;
    vfio.iface_id = "vf";
    vfio.host_dev_name = "0000:03:10.2";
    vfio.mode = "vfio";
    vfio.transport = "pci";
    resources.network_interfaces = {tap, vfio};
    resources.logger = LoggerConfig{"/tmp/log", "Debug", true, std::nullopt, std::nullopt};
    resources.metrics = MetricsConfig{"/tmp/metrics"};

    nlohmann::json json = to_json(resources);
    CHECK(json["drives"] == nlohmann::json::array());
    CHECK(json["vsock"].is_null());
    CHECK(json["machine-config"] ==
          nlohmann::json::parse(R"({"vcpu_count": 2, "mem_size_mib": 128, "smt": false,
                                    "track_dirty_pages": false, "cpu_template": "None"})"));
    CHECK(json["network-interfaces"][0]["rx_rate_limiter"]["bandwidth"] ==
          nlohmann::json::parse(R"({"size": 1000, "one_time_burst": 10, "refill_time": 100})"));
    CHECK_FALSE(json["network-interfaces"][1].contains("transport"));

    auto back = parse_config_file(dump_json(json));
    REQUIRE(back.ok());
    CHECK(to_json(*back) == json);
    CHECK(to_json(VmResources{})["boot-source"].is_null());
    CHECK(parse_config_file(dump_json(to_json(VmResources{}))).ok());

    auto info = instance_info_json("vm1", VmState::NotStarted);
    CHECK(info["app_name"] == "skiff");
    CHECK(info["id"] == "vm1");
    CHECK(info["state"] == "Not started");
    CHECK(info["vmm_version"] == SKIFF_VERSION);
    CHECK(dump_json(nlohmann::json("\xff")) == "\"\xEF\xBF\xBD\"");  // U+FFFD, no exception
}
