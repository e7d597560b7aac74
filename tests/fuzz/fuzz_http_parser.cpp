// fuzz_http_parser: the API's HTTP request parser (vmm/api/http_request_
// parser.h, http_head.h) on whatever a client could send on a connection.
// Whatever the bytes: consume() never takes more than it is given nor
// anything once Complete or Failed; a request has a token method, a path
// of printable ASCII starting with '/', a body within the limit; a failure
// has one of the documented statuses and a one-line printable message; and
// the outcome does not depend on how the bytes were cut into reads (the
// stream fed whole and fed in pieces gives the same requests and failure).
//
// Input: the first byte is the size of the pieces (1 to 256), the rest is
// the byte stream of one connection.
#include "tests/fuzz/fuzz_support.h"
#include "vmm/api/http_request_parser.h"

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

using namespace skiff;
using namespace skiff::api;

namespace {

using State = HttpRequestParser::State;

bool printable(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return c >= 0x20 && c < 0x7f; });
}

void check_request(const HttpRequest& request) {
    FUZZ_CHECK(!request.method.empty());
    FUZZ_CHECK(request.method.find(' ') == std::string::npos && printable(request.method));
    FUZZ_CHECK(request.path.starts_with('/'));
    FUZZ_CHECK(printable(request.path));
    FUZZ_CHECK(request.body.size() <= kMaxRequestBody);
}

void check_failure(const HttpFailure& failure) {
    constexpr int kStatuses[] = {kStatusBadRequest, kStatusPayloadTooLarge, kStatusExpectationFailed,
                                 kStatusHeaderFieldsTooLarge, kStatusVersionNotSupported};
    FUZZ_CHECK(std::find(std::begin(kStatuses), std::end(kStatuses), failure.status) != std::end(kStatuses));
    FUZZ_CHECK(!failure.message.empty() && printable(failure.message));
}

// What the parser makes of `stream` fed in pieces of `piece` bytes: one
// line per request or failure, and how the stream ended.
std::vector<std::string> outcomes(std::string_view stream, size_t piece) {
    std::vector<std::string> seen;
    HttpRequestParser parser;
    std::string pending;  // read, not yet taken (as a connection keeps it)
    size_t offset = 0;
    while (offset < stream.size() || !pending.empty()) {
        if (pending.empty()) {
            size_t size = std::min(piece, stream.size() - offset);
            pending.assign(stream.substr(offset, size));
            offset += size;
        }
        size_t taken = parser.consume(pending);
        FUZZ_CHECK(taken <= pending.size());
        pending.erase(0, taken);
        if (parser.state() == State::Complete) {
            FUZZ_CHECK(parser.consume("x") == 0);
            HttpRequest request = parser.take_request();
            check_request(request);
            seen.push_back(request.method + " " + request.path + " " + std::to_string(request.body.size()) +
                           (request.keep_alive ? " keep" : " close"));
            continue;
        }
        if (parser.state() == State::Failed) {
            FUZZ_CHECK(parser.consume("x") == 0);
            check_failure(parser.failure());
            seen.push_back(std::to_string(parser.failure().status) + " " + parser.failure().message);
            return seen;
        }
        FUZZ_CHECK(pending.empty());  // all of it taken while incomplete
        pending.clear();
    }
    seen.push_back(parser.started() ? "incomplete" : "idle");
    return seen;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int* /*argc*/, char*** /*argv*/) {
    fuzz::init_logging();
    return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    fuzz::Input input(data, size);
    size_t piece = static_cast<size_t>(input.byte()) + 1;
    std::span<const uint8_t> rest = input.rest();
    std::string_view stream(reinterpret_cast<const char*>(rest.data()), rest.size());
    std::vector<std::string> whole = outcomes(stream, std::max<size_t>(stream.size(), 1));
    FUZZ_CHECK(outcomes(stream, piece) == whole);
    return 0;
}
