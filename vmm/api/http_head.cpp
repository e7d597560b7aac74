#include "vmm/api/http_head.h"

#include <algorithm>
#include <limits>
#include <optional>

namespace skiff::api {

namespace {

// RFC 9110's tchar: what a method or a field name is made of.
bool is_token_char(char c) {
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
        return true;
    }
    return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}

bool is_token(std::string_view text) {
    return !text.empty() && std::all_of(text.begin(), text.end(), is_token_char);
}

bool is_visible_ascii(char c) { return c > ' ' && c < 0x7f; }

bool is_control(char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; }

bool is_space(char c) { return c == ' ' || c == '\t'; }

std::string_view trimmed(std::string_view text) {
    while (!text.empty() && is_space(text.front())) {
        text.remove_prefix(1);
    }
    while (!text.empty() && is_space(text.back())) {
        text.remove_suffix(1);
    }
    return text;
}

bool equals_ignoring_case(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

// Whether the comma-separated list `value` (Connection's) has `token`.
bool list_has(std::string_view value, std::string_view token) {
    while (!value.empty()) {
        size_t comma = value.find(',');
        if (equals_ignoring_case(trimmed(value.substr(0, comma)), token)) {
            return true;
        }
        value = comma == std::string_view::npos ? std::string_view() : value.substr(comma + 1);
    }
    return false;
}

int hex_value(char c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

// A field name for a message: a token (checked before), cut short.
std::string_view quoted_name(std::string_view name) {
    constexpr size_t kQuotedNameLength = 64;
    return name.substr(0, kQuotedNameLength);
}

// The head's lines, the end of each (LF, and a CR before it) cut off.
class Lines {
public:
    explicit Lines(std::string_view text) : text_(text) {}
    std::optional<std::string_view> next() {
        if (text_.empty()) {
            return std::nullopt;
        }
        size_t end = text_.find('\n');
        std::string_view line = text_.substr(0, end);
        text_ = end == std::string_view::npos ? std::string_view() : text_.substr(end + 1);
        if (line.ends_with('\r')) {
            line.remove_suffix(1);
        }
        return line;
    }

private:
    std::string_view text_;
};

struct RequestLine {
    std::string_view method;
    std::string_view target;
    bool http_1_0 = false;
};

Result<RequestLine> parse_request_line(std::string_view line) {
    size_t first = line.find(' ');
    size_t second = first == std::string_view::npos ? first : line.find(' ', first + 1);
    if (second == std::string_view::npos || line.find(' ', second + 1) != std::string_view::npos) {
        return Error{"the request line must be METHOD, one space, the path, one space, HTTP/1.1"};
    }
    RequestLine request{line.substr(0, first), line.substr(first + 1, second - first - 1)};
    std::string_view version = line.substr(second + 1);
    if (!is_token(request.method)) {
        return Error{"the request's method is not a valid HTTP method name"};
    }
    if (!request.target.starts_with('/')) {
        return Error{"the request's path must start with '/'"};
    }
    if (version == "HTTP/1.0") {
        request.http_1_0 = true;
    } else if (version != "HTTP/1.1") {
        return Error{"the request line must end in HTTP/1.1 (or HTTP/1.0)"};
    }
    return request;
}

// A request line ending in a well-formed version skiff does not speak
// (HTTP/2.0, HTTP/0.9): 505 rather than 400.
bool other_http_version(std::string_view line) {
    size_t last = line.rfind(' ');
    std::string_view version = last == std::string_view::npos ? line : line.substr(last + 1);
    bool well_formed = version.size() == 8 && version.starts_with("HTTP/") && version[5] >= '0' &&
                       version[5] <= '9' && version[6] == '.' && version[7] >= '0' && version[7] <= '9';
    return well_formed && version != "HTTP/1.0" && version != "HTTP/1.1";
}

}  // namespace

Result<std::string> decode_path(std::string_view raw) {
    if (!std::all_of(raw.begin(), raw.end(), is_visible_ascii)) {
        return Error{"the request's path holds a byte that is not visible ASCII: escape it as %XX"};
    }
    std::string path;
    path.reserve(raw.size());
    for (size_t index = 0; index < raw.size(); ++index) {
        if (raw[index] != '%') {
            path.push_back(raw[index]);
            continue;
        }
        bool whole = raw.size() - index > 2;
        int high = whole ? hex_value(raw[index + 1]) : -1;
        int low = whole ? hex_value(raw[index + 2]) : -1;
        if (high < 0 || low < 0) {
            return Error{"the request's path has a malformed escape: '%' must be followed by two hex digits"};
        }
        auto decoded = static_cast<unsigned char>(high * 16 + low);
        if (is_control(static_cast<char>(decoded))) {
            return Error::format("the request's path holds %{:02X}, a control character, which no path of the API "
                                 "has",
                                 decoded);
        }
        if (decoded > 0x7e) {
            return Error::format("the request's path holds %{:02X}, not ASCII, which no path of the API has",
                                 decoded);
        }
        path.push_back(static_cast<char>(decoded));
        index += 2;
    }
    return path;
}

Result<uint64_t> parse_content_length(std::string_view text) {
    if (text.empty()) {
        return Error{"Content-Length is empty: give the body's size in bytes"};
    }
    uint64_t length = 0;
    for (char c : text) {
        if (c < '0' || c > '9') {
            return Error{"Content-Length must be the body's size in bytes, decimal digits only"};
        }
        auto digit = static_cast<uint64_t>(c - '0');
        if (length > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
            return Error{"Content-Length is too large a number"};
        }
        length = length * 10 + digit;
    }
    return length;
}

HeadResult parse_head(std::string_view text) {
    RequestHead head;
    Lines lines(text);
    std::string_view first = lines.next().value_or("");
    if (std::any_of(first.begin(), first.end(), is_control)) {
        return HttpFailure{kStatusBadRequest, "the request line holds a control character"};
    }
    if (other_http_version(first)) {
        return HttpFailure{kStatusVersionNotSupported, "skiff's API speaks HTTP/1.1 (and HTTP/1.0)"};
    }
    auto line = parse_request_line(first);
    if (!line.ok()) {
        return HttpFailure{kStatusBadRequest, line.error().message};
    }
    size_t query = line->target.find('?');
    auto path = decode_path(line->target.substr(0, query));
    if (!path.ok()) {
        return HttpFailure{kStatusBadRequest, path.error().message};
    }
    if (query != std::string_view::npos) {
        std::string_view rest = line->target.substr(query);
        if (!std::all_of(rest.begin(), rest.end(), is_visible_ascii)) {
            return HttpFailure{kStatusBadRequest, "the request's query holds a byte that is not visible ASCII"};
        }
    }
    head.method = std::string(line->method);
    head.path = std::move(*path);
    head.keep_alive = !line->http_1_0;

    std::optional<uint64_t> content_length;
    while (auto field = lines.next()) {
        if (field->empty()) {
            break;  // the head's end
        }
        if (is_space(field->front())) {
            return HttpFailure{kStatusBadRequest,
                               "a header field is continued on a second line (obsolete line folding)"};
        }
        size_t colon = field->find(':');
        std::string_view name = field->substr(0, colon);
        if (colon == std::string_view::npos || !is_token(name)) {
            return HttpFailure{kStatusBadRequest, "a header line is not a field name, ':' and a value"};
        }
        std::string_view value = trimmed(field->substr(colon + 1));
        if (std::any_of(value.begin(), value.end(), [](char c) { return is_control(c) && c != '\t'; })) {
            return HttpFailure{kStatusBadRequest,
                               fmt::format("header field {} holds a control character", quoted_name(name))};
        }
        if (equals_ignoring_case(name, "Content-Length")) {
            if (content_length) {
                return HttpFailure{kStatusBadRequest, "Content-Length is given twice: give it once"};
            }
            auto length = parse_content_length(value);
            if (!length.ok()) {
                return HttpFailure{kStatusBadRequest, length.error().message};
            }
            content_length = *length;
        } else if (equals_ignoring_case(name, "Transfer-Encoding")) {
            return HttpFailure{kStatusBadRequest,
                               "skiff's API takes no Transfer-Encoding (chunked bodies are not read, as in "
                               "Firecracker): send the body with a Content-Length"};
        } else if (equals_ignoring_case(name, "Connection")) {
            if (list_has(value, "close")) {
                head.keep_alive = false;
            } else if (list_has(value, "keep-alive")) {
                head.keep_alive = true;
            }
        } else if (equals_ignoring_case(name, "Expect")) {
            if (!equals_ignoring_case(value, "100-continue")) {
                return HttpFailure{kStatusExpectationFailed,
                                   "skiff's API meets no expectation but Expect: 100-continue"};
            }
            head.expects_continue = true;
        }
    }

    head.content_length = content_length.value_or(0);
    return head;
}

}  // namespace skiff::api
