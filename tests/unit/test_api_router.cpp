#include "tests/unit/fake_controller.h"
#include "vmm/api/router.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>
#include <tuple>

using namespace skiff;
using namespace skiff::api;
using skiff::testing::FakeController;

namespace {

std::string fault_message(const Response& response) {
    auto body = nlohmann::json::parse(response.body);
    REQUIRE(body.is_object());
    REQUIRE(body.size() == 1);
    return body.at("fault_message").get<std::string>();
}

// A request that must succeed with 204 and no body.
void require_no_content(Controller& controller, const char* method, const char* path, const std::string& body) {
    Response response = handle_request(controller, method, path, body);
    INFO(method << " " << path << " " << body << " -> " << response.status << " " << response.body);
    REQUIRE(response.status == 204);
    REQUIRE(response.body.empty());
}

constexpr const char* kTap = R"({"iface_id": "eth0", "host_dev_name": "tap0"})";

}  // namespace

TEST_CASE("GET /, /version, /vm/config and /machine-config", "[api][router]") {
    FakeController controller;
    Response info = handle_request(controller, "GET", "/", "");
    REQUIRE(info.status == 200);
    CHECK(nlohmann::json::parse(info.body) ==
          nlohmann::json{
              {"app_name", "skiff"}, {"id", "fake-vm"}, {"state", "Not started"}, {"vmm_version", SKIFF_VERSION}});

    Response version = handle_request(controller, "GET", "/version", "");
    REQUIRE(version.status == 200);
    CHECK(nlohmann::json::parse(version.body) ==
          nlohmann::json{{"firecracker_version", "1.7.0"}, {"skiff_version", SKIFF_VERSION}});

    Response machine = handle_request(controller, "GET", "/machine-config", "");
    REQUIRE(machine.status == 200);
    CHECK(nlohmann::json::parse(machine.body) ==
          nlohmann::json{{"vcpu_count", 1}, {"mem_size_mib", 128}, {"smt", false}, {"track_dirty_pages", false}});

    Response config = handle_request(controller, "GET", "/vm/config", "");
    REQUIRE(config.status == 200);
    auto json = nlohmann::json::parse(config.body);
    CHECK(json["boot-source"].is_null());
    CHECK(json["network-interfaces"] == nlohmann::json::array());
    CHECK(handle_request(controller, "GET", "/machine-config/", "").status == 200);  // a trailing slash is fine

    Response with_body = handle_request(controller, "GET", "/", "{}");
    CHECK(with_body.status == 400);
    CHECK(fault_message(with_body) == "GET / takes no body");
    CHECK(controller.calls().empty());
}

TEST_CASE("the getting-started sequence configures and starts the VM", "[api][router]") {
    FakeController controller;
    require_no_content(controller, "PUT", "/logger", R"({"log_path": "/tmp/fc.log", "level": "Debug"})");
    require_no_content(controller, "PUT", "/metrics", R"({"metrics_path": "/tmp/fc.metrics"})");
    require_no_content(controller, "PUT", "/boot-source",
                       R"({"kernel_image_path": "vmlinux", "boot_args": "console=ttyS0 reboot=k panic=1"})");
    require_no_content(controller, "PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 1024})");
    require_no_content(controller, "PATCH", "/machine-config", R"({"mem_size_mib": 256})");
    require_no_content(controller, "PUT", "/network-interfaces/eth0", kTap);
    require_no_content(controller, "PUT", "/network-interfaces/eth0",
                       R"({"iface_id": "eth0", "host_dev_name": "tap1", "guest_mac": "06:00:AC:10:00:02"})");
    require_no_content(controller, "PUT", "/actions", R"({"action_type": "InstanceStart"})");

    VmResources resources = controller.resources();
    CHECK(resources.boot_source->kernel_image_path == "vmlinux");
    CHECK(resources.machine_config.vcpu_count == 2);
    CHECK(resources.machine_config.mem_size_mib == 256);
    REQUIRE(resources.network_interfaces.size() == 1);
    CHECK(resources.network_interfaces[0].host_dev_name == "tap1");
    CHECK(resources.logger->level == "Debug");
    CHECK(controller.state() == VmState::Running);
    CHECK(controller.calls() == std::vector<std::string>{"set_logger", "set_metrics", "set_boot_source",
                                                         "set_machine_config", "set_machine_config",
                                                         "set_network_interface", "set_network_interface", "start"});

    auto state = nlohmann::json::parse(handle_request(controller, "GET", "/", "").body)["state"];
    CHECK(state == "Running");
    auto config = nlohmann::json::parse(handle_request(controller, "GET", "/vm/config", "").body);
    CHECK(config["network-interfaces"][0]["guest_mac"] == "06:00:AC:10:00:02");
    CHECK(config["machine-config"]["mem_size_mib"] == 256);
}

TEST_CASE("post-boot requests: pause, resume, Ctrl-Alt-Del, rate limits, metrics", "[api][router]") {
    FakeController controller;
    require_no_content(controller, "PUT", "/network-interfaces/eth0", kTap);

    // Before InstanceStart: the Controller refuses, its message is the fault.
    Response early = handle_request(controller, "PATCH", "/vm", R"({"state": "Paused"})");
    CHECK(early.status == 400);
    CHECK(fault_message(early) == "pause: the VM is not started yet (PUT /actions InstanceStart)");
    Response no_metrics = handle_request(controller, "PUT", "/actions", R"({"action_type": "FlushMetrics"})");
    CHECK(no_metrics.status == 400);
    CHECK(fault_message(no_metrics) == "no metrics destination: PUT /metrics first");

    require_no_content(controller, "PUT", "/actions", R"({"action_type": "InstanceStart"})");
    require_no_content(controller, "PATCH", "/vm", R"({"state": "Paused"})");
    CHECK(controller.state() == VmState::Paused);
    CHECK(nlohmann::json::parse(handle_request(controller, "GET", "/", "").body)["state"] == "Paused");
    CHECK(fault_message(handle_request(controller, "PATCH", "/vm", R"({"state": "Paused"})")) ==
          "the VM is paused already");
    require_no_content(controller, "PATCH", "/vm", R"({"state": "Resumed"})");
    CHECK(controller.state() == VmState::Running);
    require_no_content(controller, "PUT", "/actions", R"({"action_type": "SendCtrlAltDel"})");
    require_no_content(controller, "PATCH", "/network-interfaces/eth0",
                       R"({"iface_id": "eth0", "rx_rate_limiter": {"bandwidth": {"size": 1000, "refill_time": 10}}})");
    CHECK(controller.resources().network_interfaces[0].rx_rate_limiter->bandwidth->size == 1000);
    Response unknown = handle_request(controller, "PATCH", "/network-interfaces/eth9", R"({"iface_id": "eth9"})");
    CHECK(unknown.status == 400);
    CHECK(fault_message(unknown) == "no network interface eth9");

    // After InstanceStart: pre-boot calls are refused.
    for (auto [method, path, body] : {std::tuple{"PUT", "/boot-source", R"({"kernel_image_path": "k"})"},
                                      std::tuple{"PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 64})"},
                                      std::tuple{"PATCH", "/machine-config", R"({"vcpu_count": 2})"},
                                      std::tuple{"PUT", "/network-interfaces/eth0", kTap},
                                      std::tuple{"PUT", "/logger", "{}"},
                                      std::tuple{"PUT", "/metrics", R"({"metrics_path": "/m"})"},
                                      std::tuple{"PUT", "/actions", R"({"action_type": "InstanceStart"})"}}) {
        INFO(method << " " << path);
        Response refused = handle_request(controller, method, path, body);
        CHECK(refused.status == 400);
        CHECK_FALSE(fault_message(refused).empty());
    }
}

TEST_CASE("bad requests get 400, 404 or 405 with a fault message", "[api][router]") {
    FakeController controller;
    auto check_fault = [&](const char* method, const std::string& path, const std::string& body, int status,
                           const std::string& message) {
        Response response = handle_request(controller, method, path, body);
        INFO(method << " " << path << " " << body);
        CHECK(response.status == status);
        CHECK(fault_message(response) == message);
        return response;
    };
    check_fault("GET", "/nothing", "", 404, "no such resource: GET /nothing (see GET /vm/config for what skiff has)");
    check_fault("PUT", "/machine-config/x", "{}", 404,
                "no such resource: PUT /machine-config/x (see GET /vm/config for what skiff has)");
    check_fault("PUT", "/network-interfaces/eth0/x", kTap, 404,
                "no such resource: PUT /network-interfaces/eth0/x (see GET /vm/config for what skiff has)");
    check_fault("PUT", "/drives/rootfs", "{}", 400, "skiff does not implement block devices (PUT /drives/rootfs)");
    check_fault("PUT", "/snapshot/create", "{}", 400, "skiff does not implement snapshots (PUT /snapshot/create)");
    check_fault("PUT", "/vsock", "{}", 400, "skiff does not implement vsock devices (PUT /vsock)");

    Response wrong_method = check_fault("DELETE", "/machine-config", "", 405,
                                        "/machine-config does not take DELETE (it takes GET, PUT, PATCH)");
    CHECK(wrong_method.allow == "GET, PUT, PATCH");
    check_fault("PUT", "/version", "{}", 405, "/version does not take PUT (it takes GET)");
    check_fault("GET", "/network-interfaces/eth0", "", 405,
                "/network-interfaces/eth0 does not take GET (it takes PUT, PATCH)");
    check_fault("get", "/", "", 405, "/ does not take get (it takes GET)");

    check_fault("PUT", "/boot-source", "", 400, "PUT /boot-source needs a JSON body");
    check_fault("PUT", "/boot-source", "{", 400,
                "invalid JSON: parse error at line 1, column 2: syntax error while parsing object key - unexpected "
                "end of input; expected string literal");
    check_fault("PUT", "/machine-config", R"({"vcpu_count": 1})", 400,
                "missing required field 'mem_size_mib' (an integer from 16 to 262144)");
    check_fault("PUT", "/network-interfaces/eth1", kTap, 400,
                "the body's iface_id \"eth0\" differs from the path's \"eth1\": they must be the same");
    check_fault("PATCH", "/network-interfaces/eth1", R"({"iface_id": "eth0"})", 400,
                "the body's iface_id \"eth0\" differs from the path's \"eth1\": they must be the same");
    check_fault("PUT", "/network-interfaces/", kTap, 400,
                "the path's iface_id \"\" is not a valid id: use 1 to 64 letters, digits, '_' or '-'");
    check_fault("PUT", "/network-interfaces", kTap, 400,
                "the path's iface_id \"\" is not a valid id: use 1 to 64 letters, digits, '_' or '-'");
    check_fault("PUT", "/network-interfaces/a%20b", kTap, 400,
                "the path's iface_id \"a%20b\" is not a valid id: use 1 to 64 letters, digits, '_' or '-'");
    check_fault("PUT", "/actions", R"({"action_type": "Reboot"})", 400,
                "field 'action_type': expected one of InstanceStart, SendCtrlAltDel, FlushMetrics, got \"Reboot\"");
    check_fault("PATCH", "/vm", R"({"state": "Stopped"})", 400,
                "field 'state': expected one of Paused, Resumed, got \"Stopped\"");
    check_fault("PUT", "/logger", R"({"level": "loud"})", 400,
                "field 'level': expected one of Error, Warning, Info, Debug, Trace, Off, got \"Loud\"");
    check_fault("PUT", "/metrics", "{}", 400, "missing required field 'metrics_path' (a string)");

    // Long and non-UTF-8 paths: cut, and still valid JSON.
    Response long_path = handle_request(controller, "GET", "/" + std::string(5000, 'x'), "");
    CHECK(long_path.status == 404);
    CHECK(fault_message(long_path).size() < 300);
    Response binary = handle_request(controller, "GET", std::string("/\xff\xfe\0x", 5), "");
    CHECK(binary.status == 404);
    CHECK_THAT(fault_message(binary), Catch::StartsWith("no such resource: GET /\xEF\xBF\xBD"));
    CHECK(controller.calls().empty());  // nothing bad reached the Controller
}

namespace {

// A Controller whose every call throws: handle_request still answers.
class ThrowingController final : public Controller {
public:
    [[nodiscard]] std::string id() const override { throw std::runtime_error("id"); }
    [[nodiscard]] VmState state() const override { throw std::runtime_error("state"); }
    [[nodiscard]] VmResources resources() const override { throw std::runtime_error("resources"); }
    Status set_boot_source(const BootSource&) override { throw std::runtime_error("boot"); }
    Status set_machine_config(const MachineConfig&) override { throw std::runtime_error("machine"); }
    Status set_network_interface(const NetworkInterface&) override { throw std::runtime_error("net"); }
    Status set_logger(const LoggerConfig&) override { throw std::runtime_error("logger"); }
    Status set_metrics(const MetricsConfig&) override { throw std::runtime_error("metrics"); }
    Status start() override { throw 42; }
    Status pause() override { throw std::runtime_error("pause"); }
    Status resume() override { throw std::runtime_error("resume"); }
    Status send_ctrl_alt_del() override { throw std::runtime_error("cad"); }
    Status update_network_interface(const NetworkInterfaceUpdate&) override { throw std::runtime_error("update"); }
    Status flush_metrics() override { throw std::runtime_error("flush"); }
};

}  // namespace

TEST_CASE("a Controller that throws gets a 500, not a crash", "[api][router]") {
    ThrowingController controller;
    Response info = handle_request(controller, "GET", "/", "");
    CHECK(info.status == 500);
    CHECK_THAT(fault_message(info), Catch::StartsWith("internal error: "));
    Response start = handle_request(controller, "PUT", "/actions", R"({"action_type": "InstanceStart"})");
    CHECK(start.status == 500);
    CHECK(fault_message(start) == "internal error");
}

TEST_CASE("a failed InstanceStart is a 400 with the Controller's message", "[api][router]") {
    FakeController controller;
    controller.fail_start(true);
    Response response = handle_request(controller, "PUT", "/actions", R"({"action_type": "InstanceStart"})");
    CHECK(response.status == 400);
    CHECK(fault_message(response) == "cannot start: the kernel is missing");
    CHECK(controller.state() == VmState::NotStarted);
}
