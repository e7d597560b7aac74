// fuzz_api: the REST API's request handling (vmm/api/router.h and the JSON
// model under it) against the fake Controller of the unit tests (the config
// file has its own target, fuzz_config_file). Whatever the bytes, handle_request must answer with
// one of the statuses it documents and a body in the right shape (empty for
// 204, a JSON object for 200, {"fault_message": string} for errors), never
// throw or crash; a 500 means an exception escaped the JSON code (the fake
// Controller never throws) and counts as a crash. What the requests
// configured must read back as a config file.
//
// Input: up to 8 requests separated by NUL bytes, applied in order to one
// fresh Controller (so that InstanceStart opens the post-boot paths). In
// each, the first line is "METHOD PATH" (split at the first space), the
// rest after the newline is the body.
#include "tests/fuzz/fuzz_support.h"
#include "tests/unit/fake_controller.h"
#include "vmm/api/json_model.h"
#include "vmm/api/router.h"

#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

using namespace skiff;
using namespace skiff::api;

namespace {

constexpr int kMaxRequests = 8;

void check_response(const Response& response) {
    switch (response.status) {
        case kStatusOk: {
            auto body = nlohmann::json::parse(response.body, nullptr, false);
            FUZZ_CHECK(body.is_object());
            break;
        }
        case kStatusNoContent:
            FUZZ_CHECK(response.body.empty());
            break;
        case kStatusBadRequest:
        case kStatusNotFound:
        case kStatusMethodNotAllowed: {
            auto body = nlohmann::json::parse(response.body, nullptr, false);
            FUZZ_CHECK(body.is_object() && body.size() == 1 && body.contains("fault_message") &&
                       body["fault_message"].is_string());
            std::string message = body["fault_message"].get<std::string>();
            FUZZ_CHECK(!message.empty());
            FUZZ_CHECK(message.find('\n') == std::string::npos);  // one line
            FUZZ_CHECK((response.status == kStatusMethodNotAllowed) == !response.allow.empty());
            break;
        }
        default:
            std::fprintf(stderr, "unexpected status %d: %s\n", response.status, response.body.c_str());
            std::abort();
    }
}

void run_request(testing::FakeController& controller, std::string_view request) {
    size_t newline = request.find('\n');
    std::string_view line = request.substr(0, newline);
    std::string_view body = newline == std::string_view::npos ? std::string_view() : request.substr(newline + 1);
    size_t space = line.find(' ');
    std::string_view method = line.substr(0, space);
    std::string_view path = space == std::string_view::npos ? std::string_view() : line.substr(space + 1);
    check_response(handle_request(controller, method, path, body));
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz::init_logging();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input input(data, size);
    testing::FakeController controller;
    for (int count = 0; count < kMaxRequests && !input.empty(); ++count) {
        run_request(controller, input.until_nul());
    }
    // What the requests configured always reads back as a config file.
    auto config = parse_config_file(dump_json(to_json(controller.resources())));
    FUZZ_CHECK(config.ok());
    return 0;
}
