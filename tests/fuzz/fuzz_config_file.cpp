// fuzz_config_file: Firecracker's --config-file as skiff reads it
// (api::parse_config_file, vmm/api/config_file.cpp), then applied to a
// VmInstance as `skiff --config-file` and libskiff's Vm::load_config do.
// Whatever the bytes, reading must succeed or fail with a one-line message,
// never throw or crash; a file that reads must read back the same from its
// own GET /vm/config JSON; and what a VmInstance accepts of it must read
// back too. The logger and metrics sections are read and compared but not
// applied (applying them opens the files they name).
//
// Input: the config file's text.
#include "tests/fuzz/fuzz_support.h"
#include "vmm/api/json_model.h"
#include "vmm/vm_instance.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

using namespace skiff;

namespace {

bool one_line(const std::string& message) { return !message.empty() && message.find('\n') == std::string::npos; }

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz::init_logging();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view text(reinterpret_cast<const char*>(data), size);
    auto resources = api::parse_config_file(text);
    if (!resources.ok()) {
        FUZZ_CHECK(one_line(resources.error().message));
        return 0;
    }
    const nlohmann::json json = api::to_json(*resources);
    auto again = api::parse_config_file(api::dump_json(json));
    FUZZ_CHECK(again.ok());
    FUZZ_CHECK(api::to_json(*again) == json);

    VmResources applied = std::move(resources).value();
    applied.logger.reset();
    applied.metrics.reset();
    VmInstance instance(VmInstanceOptions{});
    Status status = instance.apply(applied);
    if (!status) {
        FUZZ_CHECK(one_line(status.message()));
        return 0;
    }
    auto kept = api::parse_config_file(api::dump_json(api::to_json(instance.resources())));
    FUZZ_CHECK(kept.ok());
    return 0;
}
