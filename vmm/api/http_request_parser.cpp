#include "vmm/api/http_request_parser.h"

#include <algorithm>
#include <variant>

namespace skiff::api {

size_t HttpRequestParser::consume(std::string_view input) {
    size_t taken = 0;
    while (taken < input.size()) {
        switch (state_) {
            case State::Empty:
            case State::Head:
                taken += consume_head(input.substr(taken));
                break;
            case State::Body:
                taken += consume_body(input.substr(taken));
                break;
            case State::Complete:
            case State::Failed:
                return taken;
        }
    }
    return taken;
}

size_t HttpRequestParser::consume_head(std::string_view input) {
    state_ = State::Head;
    size_t taken = 0;
    while (taken < input.size()) {
        char c = input[taken++];
        if (head_.size() >= limits_.max_head_bytes) {
            fail(kStatusHeaderFieldsTooLarge,
                 fmt::format("the request's line and header fields are larger than {} bytes, the most skiff's API "
                             "takes",
                             limits_.max_head_bytes));
            return taken;
        }
        head_.push_back(c);
        if (c != '\n') {
            continue;
        }
        size_t line_length = head_.size() - 1 - line_start_;
        if (line_length > 0 && head_[head_.size() - 2] == '\r') {
            --line_length;
        }
        if (line_length == 0) {
            if (request_line_start_ == line_start_) {
                // Empty lines before a request line (after a previous body)
                // are skipped, as RFC 9112 2.2 allows; they count to the limit.
                request_line_start_ = line_start_ = head_.size();
                continue;
            }
            finish_head();
            return taken;
        }
        if (line_start_ != request_line_start_ && ++fields_ > limits_.max_header_fields) {
            fail(kStatusHeaderFieldsTooLarge,
                 fmt::format("the request has more than {} header fields, the most skiff's API takes",
                             limits_.max_header_fields));
            return taken;
        }
        line_start_ = head_.size();
    }
    return taken;
}

size_t HttpRequestParser::consume_body(std::string_view input) {
    size_t taken = static_cast<size_t>(std::min<uint64_t>(body_remaining_, input.size()));
    request_.body.append(input.substr(0, taken));
    body_remaining_ -= taken;
    if (body_remaining_ == 0) {
        state_ = State::Complete;
        expects_continue_ = false;
    }
    return taken;
}

void HttpRequestParser::finish_head() {
    HeadResult parsed = parse_head(std::string_view(head_).substr(request_line_start_));
    head_.clear();
    if (auto* refused = std::get_if<HttpFailure>(&parsed)) {
        return fail(refused->status, std::move(refused->message));
    }
    RequestHead& head = std::get<RequestHead>(parsed);
    if (head.content_length > limits_.max_body_bytes) {
        return fail(kStatusPayloadTooLarge,
                    fmt::format("the request body is larger than {} bytes, the most skiff's API takes",
                                limits_.max_body_bytes));
    }
    request_.method = std::move(head.method);
    request_.path = std::move(head.path);
    request_.keep_alive = head.keep_alive;
    if (head.content_length == 0) {
        state_ = State::Complete;
        return;
    }
    expects_continue_ = head.expects_continue;
    body_remaining_ = head.content_length;
    request_.body.reserve(static_cast<size_t>(head.content_length));
    state_ = State::Body;
}

void HttpRequestParser::fail(int status, std::string message) {
    failure_ = HttpFailure{status, std::move(message)};
    state_ = State::Failed;
    head_.clear();
}

HttpRequest HttpRequestParser::take_request() {
    HttpRequest request = std::move(request_);
    reset();
    return request;
}

void HttpRequestParser::reset() {
    state_ = State::Empty;
    head_.clear();
    line_start_ = 0;
    request_line_start_ = 0;
    fields_ = 0;
    body_remaining_ = 0;
    expects_continue_ = false;
    request_ = HttpRequest{};
    failure_ = HttpFailure{};
}

}  // namespace skiff::api
