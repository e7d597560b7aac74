// One client connection of the API server (http_server.h): its socket, the
// bytes read and not yet parsed, the request being parsed, the response
// being sent, and the deadline of whatever it waits for. Non-blocking: the
// server's poll loop calls it when the socket is ready or its deadline
// passed.
//
// Deadlines (ConnectionLimits):
// - idle: before a request's first byte, `idle` after the accept or the
//   last response; then closed.
// - request: a request's line, header fields and body must all arrive
//   within `request` of its first byte; then 408 (best effort) and closed.
//   A client that sends a byte a second holds its connection that long.
// - response: the client must take its response within `response`; then
//   closed. While a response is unsent nothing more is read, so a client
//   that pipelines requests and reads no answers costs one response.
// After a response that ends the connection (an error, Connection: close)
// the server stops sending and reads and drops what the client still
// sends, up to kMaxDrainBytes or `drain`, so that a client still sending a
// refused body gets to read the answer rather than a reset.
#pragma once

#include "vmm/api/http_request_parser.h"
#include "vmm/api/router.h"
#include "vmm/unique_fd.h"

#include <chrono>
#include <functional>
#include <string>

namespace skiff::api {

struct ConnectionLimits {
    std::chrono::milliseconds idle{std::chrono::seconds(30)};
    std::chrono::milliseconds request{std::chrono::seconds(10)};
    std::chrono::milliseconds response{std::chrono::seconds(10)};
    std::chrono::milliseconds drain{std::chrono::seconds(1)};  // a lingering close, at most
};

inline constexpr size_t kMaxDrainBytes = 1024 * 1024;

class HttpConnection final {
public:
    using Clock = std::chrono::steady_clock;
    // Answers one complete request (the server serializes them).
    using Handler = std::function<Response(const HttpRequest&)>;

    // What the connection waits for, in the order the server evicts
    // connections when it has too many: a closing one first, then the one
    // idle the longest, then the slowest request, then the slowest reader.
    enum class Activity { Draining, Idle, Receiving, Sending };

    HttpConnection(UniqueFd socket, ConnectionLimits limits);
    HttpConnection(HttpConnection&&) = default;
    HttpConnection& operator=(HttpConnection&&) = default;

    [[nodiscard]] int fd() const { return socket_.get(); }
    [[nodiscard]] bool closed() const { return !socket_.valid(); }
    // POLLIN or POLLOUT.
    [[nodiscard]] short poll_events() const;

    // poll() reported `revents`: sends what is pending, reads what came,
    // answers each complete request through `handler`.
    void on_ready(short revents, const Handler& handler);

    [[nodiscard]] Activity activity() const;
    // When the current activity began (eviction order) and when it times out.
    [[nodiscard]] Clock::time_point since() const;
    [[nodiscard]] Clock::time_point deadline() const;
    // The deadline passed: 408 for a partial request (best effort), closed.
    void on_deadline();
    // Closed to make room for a new client: 503 for a partial request
    // (best effort).
    void evict();

private:
    void read_input();
    void drain_input();
    void process(const Handler& handler);
    void queue(std::string bytes);
    void flush();
    void finish_response();
    void refuse_and_close(int status, std::string_view message);
    void close();

    UniqueFd socket_;
    ConnectionLimits limits_;
    HttpRequestParser parser_;
    std::string input_;  // read, not yet parsed (at most one read's worth)
    std::string output_;
    size_t output_sent_ = 0;
    bool continue_sent_ = false;
    bool closing_ = false;  // close once output_ is sent
    bool input_ended_ = false;  // the client sends no more
    bool draining_ = false;
    size_t drained_ = 0;
    Clock::time_point idle_since_;
    Clock::time_point request_since_;
    Clock::time_point output_since_;
    Clock::time_point drain_since_;
};

}  // namespace skiff::api
