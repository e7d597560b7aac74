#include "vmm/api/http_connection.h"

#include "vmm/api/http_response.h"
#include "vmm/log_limit.h"

#include <poll.h>
#include <sys/socket.h>

#include <cerrno>

namespace skiff::api {

namespace {

constexpr size_t kReadSize = 16384;

bool retry_later(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

double seconds(std::chrono::milliseconds duration) { return static_cast<double>(duration.count()) / 1000.0; }

}  // namespace

HttpConnection::HttpConnection(UniqueFd socket, ConnectionLimits limits)
    : socket_(std::move(socket)), limits_(limits), idle_since_(Clock::now()) {}

short HttpConnection::poll_events() const {
    if (closed()) {
        return 0;
    }
    if (output_sent_ < output_.size()) {
        return POLLOUT;
    }
    return input_ended_ ? 0 : POLLIN;
}

void HttpConnection::on_ready(short revents, const Handler& handler) {
    if (closed()) {
        return;
    }
    if ((revents & (POLLERR | POLLNVAL)) != 0) {
        close();
        return;
    }
    if (output_sent_ < output_.size()) {
        flush();  // on POLLHUP too: the send fails if the client is gone
        if (closed() || output_sent_ < output_.size()) {
            return;
        }
    }
    if (draining_) {
        drain_input();
        return;
    }
    if ((revents & (POLLIN | POLLHUP)) != 0 && input_.empty()) {
        read_input();
    }
    process(handler);
}

void HttpConnection::read_input() {
    char buffer[kReadSize];
    ssize_t got = ::recv(socket_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got > 0) {
        input_.append(buffer, static_cast<size_t>(got));
    } else if (got == 0) {
        input_ended_ = true;
    } else if (!retry_later(errno)) {
        close();
    }
}

void HttpConnection::drain_input() {
    char buffer[kReadSize];
    ssize_t got = ::recv(socket_.get(), buffer, sizeof(buffer), MSG_DONTWAIT);
    if (got > 0) {
        drained_ += static_cast<size_t>(got);
        if (drained_ > kMaxDrainBytes) {
            close();
        }
    } else if (got == 0 || !retry_later(errno)) {
        close();
    }
}

void HttpConnection::process(const Handler& handler) {
    while (!closed() && !closing_ && output_.empty()) {
        bool was_started = parser_.started();
        size_t taken = parser_.consume(input_);
        input_.erase(0, taken);
        if (!was_started && parser_.started()) {
            request_since_ = Clock::now();
        }
        if (parser_.state() == HttpRequestParser::State::Complete) {
            HttpRequest request = parser_.take_request();
            continue_sent_ = false;
            Response response = handler(request);
            closing_ = !request.keep_alive;
            queue(serialize_response(response, closing_ ? AfterResponse::Close : AfterResponse::KeepOpen));
            continue;  // a pipelined request may follow
        }
        if (parser_.state() == HttpRequestParser::State::Failed) {
            const HttpFailure& failure = parser_.failure();
            SKIFF_LOG_LIMITED(spdlog::level::info, "API: refused a request: {} {}: {}", failure.status,
                              reason_phrase(failure.status), failure.message);
            closing_ = true;
            queue(serialize_response(fault(failure.status, failure.message), AfterResponse::Close));
            return;
        }
        if (parser_.state() == HttpRequestParser::State::Body && parser_.expects_continue() && !continue_sent_) {
            continue_sent_ = true;
            queue(std::string(kContinueResponse));
        }
        break;  // everything read is parsed: more bytes are due
    }
    if (input_ended_ && !closed()) {
        // Nothing more comes: answer what is complete, then hang up.
        if (output_.empty()) {
            close();
        } else {
            closing_ = true;
        }
    }
}

void HttpConnection::queue(std::string bytes) {
    output_ = std::move(bytes);
    output_sent_ = 0;
    output_since_ = Clock::now();
    flush();
}

void HttpConnection::flush() {
    while (output_sent_ < output_.size()) {
        ssize_t sent = ::send(socket_.get(), output_.data() + output_sent_, output_.size() - output_sent_,
                              MSG_NOSIGNAL | MSG_DONTWAIT);
        if (sent > 0) {
            output_sent_ += static_cast<size_t>(sent);
        } else if (sent < 0 && retry_later(errno)) {
            if (errno != EINTR) {
                return;  // POLLOUT brings the server back
            }
        } else {
            close();
            return;
        }
    }
    output_.clear();
    output_sent_ = 0;
    finish_response();
}

void HttpConnection::finish_response() {
    idle_since_ = Clock::now();
    if (!closing_) {
        return;
    }
    if (input_ended_) {
        close();
        return;
    }
    // A lingering close: the client learns the answer is complete, and
    // what it still sends is read and dropped for a while.
    ::shutdown(socket_.get(), SHUT_WR);
    draining_ = true;
    drain_since_ = Clock::now();
}

HttpConnection::Activity HttpConnection::activity() const {
    if (draining_) {
        return Activity::Draining;
    }
    if (!output_.empty()) {
        return Activity::Sending;
    }
    return parser_.started() ? Activity::Receiving : Activity::Idle;
}

HttpConnection::Clock::time_point HttpConnection::since() const {
    switch (activity()) {
        case Activity::Draining: return drain_since_;
        case Activity::Sending: return output_since_;
        case Activity::Receiving: return request_since_;
        case Activity::Idle: break;
    }
    return idle_since_;
}

HttpConnection::Clock::time_point HttpConnection::deadline() const {
    switch (activity()) {
        case Activity::Draining: return drain_since_ + limits_.drain;
        case Activity::Sending: return output_since_ + limits_.response;
        case Activity::Receiving: return request_since_ + limits_.request;
        case Activity::Idle: break;
    }
    return idle_since_ + limits_.idle;
}

void HttpConnection::on_deadline() {
    switch (activity()) {
        case Activity::Receiving:
            SKIFF_LOG_LIMITED(spdlog::level::info,
                              "API: a request did not arrive whole within {:g} s of its first byte: connection "
                              "closed",
                              seconds(limits_.request));
            refuse_and_close(kStatusRequestTimeout,
                             fmt::format("the request did not arrive whole within {:g} s of its first byte",
                                         seconds(limits_.request)));
            return;
        case Activity::Sending:
            SKIFF_LOG_LIMITED(spdlog::level::info,
                              "API: a client did not read its response within {:g} s: connection closed",
                              seconds(limits_.response));
            break;
        case Activity::Idle:
        case Activity::Draining:
            break;
    }
    close();
}

void HttpConnection::evict() {
    if (activity() == Activity::Receiving) {
        refuse_and_close(kStatusServiceUnavailable,
                         "skiff's API has as many connections as it keeps and closed this one, the slowest, to "
                         "serve a new client");
        return;
    }
    close();
}

void HttpConnection::refuse_and_close(int status, std::string_view message) {
    if (output_.empty()) {
        std::string answer = serialize_response(fault(status, message), AfterResponse::Close);
        // One try, not waiting: the connection goes either way.
        [[maybe_unused]] ssize_t sent =
            ::send(socket_.get(), answer.data(), answer.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    close();
}

void HttpConnection::close() { socket_.reset(); }

}  // namespace skiff::api
