// One HTTP/1.1 request read incrementally from a connection's bytes: the
// head (request line and header fields, parsed by http_head.h once its
// empty line is in), then a body of Content-Length bytes. Pure: no I/O, no
// clock; the connection (http_connection.h) feeds it what it reads and asks
// what it has. Sizes are bounded as the bytes come, not after:
// - the head: at most kMaxRequestHead bytes (empty lines before a request
//   line count too) and kMaxHeaderFields fields, else 431;
// - the body: at most kMaxRequestBody bytes, else 413 as soon as the head
//   is in, before a byte of the body is read.
#pragma once

#include "vmm/api/http_head.h"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace skiff::api {

// Firecracker's default maximum payload.
inline constexpr size_t kMaxRequestBody = 51200;
inline constexpr size_t kMaxRequestHead = 8192;
inline constexpr size_t kMaxHeaderFields = 64;

struct RequestLimits {
    size_t max_head_bytes = kMaxRequestHead;
    size_t max_header_fields = kMaxHeaderFields;
    size_t max_body_bytes = kMaxRequestBody;
};

struct HttpRequest {
    std::string method;
    std::string path;  // decoded, without the query: printable ASCII only
    std::string body;
    bool keep_alive = true;
};

class HttpRequestParser final {
public:
    enum class State {
        Empty,     // no byte of a request yet
        Head,      // in the request line or the header fields
        Body,      // the head is in, body bytes are due
        Complete,  // request() holds a whole request
        Failed,    // failure() says why; nothing more is taken
    };

    explicit HttpRequestParser(RequestLimits limits = {}) : limits_(limits) {}

    // Takes bytes from the front of `input`, up to the end of one request
    // (what follows, a pipelined next request, is left), and returns how
    // many it took. Takes nothing once Complete or Failed.
    size_t consume(std::string_view input);

    [[nodiscard]] State state() const { return state_; }
    // Some byte of a request has arrived (the request's deadline runs).
    [[nodiscard]] bool started() const { return state_ != State::Empty; }
    // In Body: the client waits for "100 Continue" before it sends the body.
    [[nodiscard]] bool expects_continue() const { return expects_continue_; }
    // Complete: the request; take_request() moves it out and resets.
    [[nodiscard]] const HttpRequest& request() const { return request_; }
    [[nodiscard]] HttpRequest take_request();
    // Failed: why.
    [[nodiscard]] const HttpFailure& failure() const { return failure_; }

    // Ready for the connection's next request (limits kept).
    void reset();

private:
    size_t consume_head(std::string_view input);
    size_t consume_body(std::string_view input);
    void finish_head();
    void fail(int status, std::string message);

    RequestLimits limits_;
    State state_ = State::Empty;
    std::string head_;  // the head as received, up to its empty line
    size_t request_line_start_ = 0;  // after empty lines that came before it
    size_t line_start_ = 0;  // where head_'s current line starts
    size_t fields_ = 0;  // header field lines so far
    uint64_t body_remaining_ = 0;
    bool expects_continue_ = false;
    HttpRequest request_;
    HttpFailure failure_;
};

}  // namespace skiff::api
