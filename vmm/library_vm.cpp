// libskiff's skiff::Vm (skiff/skiff.h): a VmInstance, with the embedded test
// guest as its default kernel, and optionally the REST API in front of it.
#include "skiff/skiff.h"

#include "guest-images/embedded_testguest.h"
#include "vmm/api/http_server.h"
#include "vmm/api/json_model.h"
#include "vmm/vm_instance.h"

#include <mutex>

namespace skiff {

struct Vm::State {
    explicit State(VmInstanceOptions options) : instance(std::move(options)) {}
    VmInstance instance;
    std::mutex server_mutex;
    std::unique_ptr<api::ApiServer> server;  // declared last: goes first
};

namespace {

VmInstanceOptions library_options(std::string id) {
    VmInstanceOptions options;
    options.id = std::move(id);
    options.default_kernel = embedded_testguest();
    options.require_boot_source = false;
    options.base.serial.output = SerialOutput::Capture;
    return options;
}

}  // namespace

Vm::Vm(std::string id) : state_(std::make_unique<State>(library_options(std::move(id)))) {}

Vm::~Vm() {
    {
        std::lock_guard lock(state_->server_mutex);
        state_->server.reset();
    }
    state_->instance.stop("the skiff::Vm was destroyed");
    state_->instance.wait();
}

Status Vm::set_boot_source(const BootSource& source) { return state_->instance.set_boot_source(source); }
Status Vm::set_machine_config(const MachineConfig& config) { return state_->instance.set_machine_config(config); }
Status Vm::set_network_interface(const NetworkInterface& interface) {
    return state_->instance.set_network_interface(interface);
}
Status Vm::set_logger(const LoggerConfig& logger) { return state_->instance.set_logger(logger); }
Status Vm::set_metrics(const MetricsConfig& metrics) { return state_->instance.set_metrics(metrics); }

Status Vm::set_console(ConsoleMode mode, std::string path, size_t capture_limit) {
    SerialConfig serial;
    switch (mode) {
        case ConsoleMode::Capture: serial.output = SerialOutput::Capture; break;
        case ConsoleMode::Stdio: serial.output = SerialOutput::Stdio; break;
        case ConsoleMode::File: serial.output = SerialOutput::File; break;
        case ConsoleMode::None: serial.output = SerialOutput::None; break;
    }
    if (mode == ConsoleMode::File && path.empty()) {
        return Status::failure("ConsoleMode::File needs a path");
    }
    serial.path = std::move(path);
    serial.capture_limit = capture_limit;
    return state_->instance.set_console(serial);
}

Status Vm::set_timeout(std::chrono::milliseconds timeout) {
    return state_->instance.set_timeout(std::chrono::duration<double>(timeout).count());
}

Status Vm::load_config(std::string_view json) {
    auto resources = api::parse_config_file(json);
    if (!resources.ok()) {
        return Status::failure(resources.error().message);
    }
    return state_->instance.apply(*resources);
}

Status Vm::serve_api(const std::string& socket_path) {
    std::lock_guard lock(state_->server_mutex);
    if (state_->server) {
        return Status::failure("this Vm already serves its API");
    }
    auto server = api::ApiServer::start(socket_path, state_->instance);
    if (!server.ok()) {
        return Status::failure(server.error().message);
    }
    state_->server = std::move(server.value());
    return {};
}

Status Vm::start() { return state_->instance.start(); }
Status Vm::pause() { return state_->instance.pause(); }
Status Vm::resume() { return state_->instance.resume(); }
Status Vm::send_ctrl_alt_del() { return state_->instance.send_ctrl_alt_del(); }
Status Vm::update_network_interface(const NetworkInterfaceUpdate& update) {
    return state_->instance.update_network_interface(update);
}
Status Vm::flush_metrics() { return state_->instance.flush_metrics(); }
void Vm::stop() { state_->instance.stop("stopped by its owner"); }
ExitInfo Vm::wait() { return state_->instance.wait(); }
std::optional<ExitInfo> Vm::wait_for(std::chrono::milliseconds timeout) { return state_->instance.wait_for(timeout); }
VmState Vm::state() const { return state_->instance.state(); }
VmResources Vm::resources() const { return state_->instance.resources(); }
std::string Vm::console_output() const { return state_->instance.console_output(); }
std::vector<InterfaceStats> Vm::interface_stats() const { return state_->instance.interface_stats(); }
const char* Vm::version() { return SKIFF_VERSION; }

}  // namespace skiff
