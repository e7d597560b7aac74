// The head of one HTTP/1.1 request (its request line and header fields, up
// to the empty line), parsed whole. Strict wherever leniency would let a
// client confuse skiff; each refusal is a status and a one-line message
// built from fixed text, never from the client's bytes:
// - request line: METHOD SP /path[?query] SP HTTP/1.1 or HTTP/1.0 (other
//   versions 505). The path is visible ASCII; %XX escapes are decoded, and
//   a malformed one, or one that decodes to a control character (%00, %0A)
//   or to a byte above 0x7e, is 400. The query is checked, then dropped.
// - lines end in CRLF (a bare LF is taken too); a NUL or other control
//   character in the request line, or in a field value other than a tab,
//   is 400, and so are a folded (continued) line and a line without ':'.
// - Content-Length: decimal digits only, given at most once (a second one,
//   even equal, a sign, a list, a number beyond 64 bits: 400).
// - Transfer-Encoding (chunked or any other): 400. Firecracker's micro_http
//   reads no chunked body either; API clients send Content-Length.
// - Expect: 100-continue is noted; any other expectation is 417.
// Sizes (of the head, the field count, the body) are the incremental
// parser's business (http_request_parser.h).
#pragma once

#include "vmm/api/http_status.h"
#include "vmm/result.h"

#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

namespace skiff::api {

struct RequestHead {
    std::string method;
    std::string path;  // decoded, without the query: printable ASCII only
    uint64_t content_length = 0;
    bool keep_alive = true;  // HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with keep-alive
    bool expects_continue = false;
};

// Why a request is refused: the status to answer (then the connection
// closes) and the fault_message.
struct HttpFailure {
    int status = 0;
    std::string message;
};

using HeadResult = std::variant<RequestHead, HttpFailure>;

// `text`: the request line and the field lines, each ended by CRLF or LF;
// an empty line ends it (what follows is ignored).
HeadResult parse_head(std::string_view text);

// A request target's path (what precedes any '?'), decoded. Errors: a byte
// outside visible ASCII, a malformed escape, one that decodes to a control
// character or a byte above 0x7e.
Result<std::string> decode_path(std::string_view raw);

// Content-Length's value (without the spaces around it): decimal digits
// only, at most 2^64-1. Errors: empty, a sign, any other character, too
// many digits.
Result<uint64_t> parse_content_length(std::string_view text);

}  // namespace skiff::api
