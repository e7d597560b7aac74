// The API's HTTP request parser on its own: whole requests, requests cut
// anywhere, pipelined ones, and everything a hostile client tries.
#include "vmm/api/http_request_parser.h"

#include <catch2/catch.hpp>

#include <string>
#include <string_view>
#include <vector>

using namespace skiff::api;
using State = HttpRequestParser::State;

namespace {

// The failure for `text` fed whole (REQUIREs that it fails).
HttpFailure failure_of(std::string_view text, RequestLimits limits = {}) {
    HttpRequestParser parser(limits);
    parser.consume(text);
    REQUIRE(parser.state() == State::Failed);
    return parser.failure();
}

HttpRequest request_of(std::string_view text) {
    HttpRequestParser parser;
    size_t taken = parser.consume(text);
    REQUIRE(parser.state() == State::Complete);
    CHECK(taken == text.size());
    return parser.take_request();
}

}  // namespace

TEST_CASE("http parser: a request with and without a body", "[api][http]") {
    HttpRequest get = request_of("GET /machine-config HTTP/1.1\r\nHost: localhost\r\nAccept: */*\r\n\r\n");
    CHECK(get.method == "GET");
    CHECK(get.path == "/machine-config");
    CHECK(get.body.empty());
    CHECK(get.keep_alive);

    HttpRequest put = request_of(
        "PUT /boot-source HTTP/1.1\r\ncontent-length: 12\r\nContent-Type: application/json\r\n\r\n{\"a\": true}\n");
    CHECK(put.method == "PUT");
    CHECK(put.body == "{\"a\": true}\n");

    // Connection: close, HTTP/1.0 (closes unless keep-alive), bare LF lines,
    // a query (dropped), escapes decoded, empty lines before the request.
    CHECK_FALSE(request_of("GET / HTTP/1.1\r\nConnection: Close\r\n\r\n").keep_alive);
    CHECK_FALSE(request_of("GET / HTTP/1.0\r\n\r\n").keep_alive);
    CHECK(request_of("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n").keep_alive);
    CHECK(request_of("GET /version HTTP/1.1\nHost: x\n\n").path == "/version");
    CHECK(request_of("GET /?debug=1&x=%00 HTTP/1.1\r\n\r\n").path == "/");
    CHECK(request_of("GET /network-interfaces/eth%30 HTTP/1.1\r\n\r\n").path == "/network-interfaces/eth0");
    CHECK(request_of("\r\n\r\nGET / HTTP/1.1\r\n\r\n").path == "/");
    // Field values: spaces around them trimmed, a tab inside allowed.
    CHECK(request_of("PUT /x HTTP/1.1\r\nContent-Length:  \t2 \r\nX-Note: a\tb\r\n\r\n{}").body == "{}");
}

TEST_CASE("http parser: a request split across many reads, byte by byte", "[api][http]") {
    const std::string text = "PUT /machine-config HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789";
    HttpRequestParser parser;
    CHECK_FALSE(parser.started());
    for (size_t index = 0; index < text.size(); ++index) {
        REQUIRE(parser.state() != State::Complete);
        CHECK(parser.consume(std::string_view(text).substr(index, 1)) == 1);
        CHECK(parser.started());
    }
    REQUIRE(parser.state() == State::Complete);
    CHECK(parser.request().body == "0123456789");
    // In uneven pieces too.
    HttpRequestParser again;
    for (size_t start = 0; start < text.size(); start += 7) {
        again.consume(std::string_view(text).substr(start, 7));
    }
    CHECK(again.state() == State::Complete);
    CHECK(again.request().body == "0123456789");
}

TEST_CASE("http parser: two pipelined requests in one read", "[api][http]") {
    const std::string first = "PUT /vm HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
    const std::string second = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n";
    std::string both = first + second;
    HttpRequestParser parser;
    size_t taken = parser.consume(both);
    CHECK(taken == first.size());  // stops at the end of the first request
    REQUIRE(parser.state() == State::Complete);
    CHECK(parser.consume("more") == 0);  // takes nothing until taken
    HttpRequest request = parser.take_request();
    CHECK(request.method == "PUT");
    CHECK(request.body == "{}");
    CHECK(parser.state() == State::Empty);
    CHECK(parser.consume(std::string_view(both).substr(taken)) == second.size());
    REQUIRE(parser.state() == State::Complete);
    CHECK(parser.request().method == "GET");
    CHECK_FALSE(parser.request().keep_alive);
}

TEST_CASE("http parser: Content-Length strictly one decimal number", "[api][http]") {
    const std::vector<std::string> bad_lengths{"-1", "+5", "99999999999999999999", "18446744073709551616",
                                               "0x10", "1 2", "5, 5", "", "1e3", "٣"};
    for (const auto& value : bad_lengths) {
        INFO("Content-Length: " << value);
        HttpFailure failed = failure_of("PUT /vm HTTP/1.1\r\nContent-Length: " + value + "\r\n\r\n");
        CHECK(failed.status == 400);
        CHECK_THAT(failed.message, Catch::Contains("Content-Length"));
    }
    // Twice, even with the same value, or in two spellings.
    for (std::string_view twice : {"Content-Length: 2\r\nContent-Length: 2\r\n",
                                   "Content-Length: 2\r\ncontent-length: 3\r\n"}) {
        HttpFailure failed = failure_of(std::string("PUT /vm HTTP/1.1\r\n") + std::string(twice) + "\r\n{}");
        CHECK(failed.status == 400);
        CHECK(failed.message == "Content-Length is given twice: give it once");
    }
    // The largest 64-bit number is a number (and then too large a body).
    CHECK(parse_content_length("18446744073709551615").ok());
    CHECK(failure_of("PUT /vm HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n").status == 413);
    CHECK(*parse_content_length("00012") == 12);
}

TEST_CASE("http parser: bodies over the limit are 413 once the head is in", "[api][http]") {
    HttpFailure failed = failure_of("PUT /boot-source HTTP/1.1\r\nContent-Length: 51201\r\n\r\n");
    CHECK(failed.status == 413);
    CHECK(failed.message == "the request body is larger than 51200 bytes, the most skiff's API takes");
    HttpRequestParser exactly;
    std::string head = "PUT /boot-source HTTP/1.1\r\nContent-Length: 51200\r\n\r\n";
    CHECK(exactly.consume(head) == head.size());
    CHECK(exactly.state() == State::Body);
    CHECK(exactly.consume(std::string(60000, ' ')) == 51200);
    CHECK(exactly.state() == State::Complete);
}

TEST_CASE("http parser: Transfer-Encoding is refused with a message", "[api][http]") {
    for (std::string_view encoding : {"chunked", "gzip, chunked", "identity"}) {
        HttpFailure failed =
            failure_of(std::string("PUT /boot-source HTTP/1.1\r\nTransfer-Encoding: ") + std::string(encoding) +
                       "\r\n\r\n400\r\n");
        CHECK(failed.status == 400);
        CHECK_THAT(failed.message, Catch::Contains("Transfer-Encoding") && Catch::Contains("Content-Length"));
    }
}

TEST_CASE("http parser: NUL and control characters in the path are 400", "[api][http]") {
    for (std::string_view path : {"/machine-config%00xyz", "/machine-config%0a", "/x%7F", "/x%1b[31m", "/%FF",
                                  "/x%", "/x%4", "/x%zz", "/x%%41"}) {
        INFO(path);
        HttpFailure failed = failure_of(std::string("GET ") + std::string(path) + " HTTP/1.1\r\n\r\n");
        CHECK(failed.status == 400);
        CHECK_THAT(failed.message, Catch::StartsWith("the request's path"));
    }
    CHECK_THAT(failure_of("GET /machine-config%00xyz HTTP/1.1\r\n\r\n").message, Catch::Contains("%00"));
    // Raw: a NUL, a tab, a byte above 0x7e, a CR inside the line.
    for (std::string_view line : {std::string_view("GET /x\0y HTTP/1.1\r\n\r\n", 21),
                                  std::string_view("GET /x\ty HTTP/1.1\r\n\r\n"),
                                  std::string_view("GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n"),
                                  std::string_view("GET /x\ry HTTP/1.1\r\n\r\n")}) {
        CHECK(failure_of(line).status == 400);
    }
}

TEST_CASE("http parser: malformed request lines and header fields", "[api][http]") {
    for (std::string_view text : {"this is not HTTP\r\n\r\n", "GET / HTTP/1.1 extra\r\n\r\n", "GET  / HTTP/1.1\r\n\r\n",
                                  "GET x HTTP/1.1\r\n\r\n", "G(T / HTTP/1.1\r\n\r\n", "GET / HTTX/1.1\r\n\r\n",
                                  "GET / HTTP/1.1\r\nbroken header line\r\n\r\n",
                                  "GET / HTTP/1.1\r\nName : value\r\n\r\n", "GET / HTTP/1.1\r\n: value\r\n\r\n",
                                  "GET / HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"}) {
        INFO(text);
        CHECK(failure_of(text).status == 400);
    }
    CHECK(failure_of(std::string_view("GET / HTTP/1.1\r\nX: a\0b\r\n\r\n", 26)).status == 400);
    CHECK(failure_of("GET / HTTP/1.1\r\nX: a\x1b[2Jb\r\n\r\n").message == "header field X holds a control character");
    CHECK(failure_of("GET / HTTP/2.0\r\n\r\n").status == 505);
    CHECK(failure_of("PUT /vm HTTP/1.1\r\nExpect: 200-ok\r\n\r\n").status == 417);
}

TEST_CASE("http parser: a head over 8 KiB or with too many fields is 431", "[api][http]") {
    HttpFailure large = failure_of("GET / HTTP/1.1\r\nX-Big: " + std::string(kMaxRequestHead, 'a') + "\r\n\r\n");
    CHECK(large.status == 431);
    CHECK_THAT(large.message, Catch::Contains("8192 bytes"));
    // Without an end of line the limit still holds: it stops taking bytes.
    HttpRequestParser endless;
    CHECK(endless.consume(std::string(20000, 'G')) == kMaxRequestHead + 1);
    CHECK(endless.state() == State::Failed);
    CHECK(endless.consume("more") == 0);

    std::string many = "GET / HTTP/1.1\r\n";
    for (size_t index = 0; index <= kMaxHeaderFields; ++index) {
        many += "X-" + std::to_string(index) + ": y\r\n";
    }
    HttpFailure fields = failure_of(many + "\r\n");
    CHECK(fields.status == 431);
    CHECK_THAT(fields.message, Catch::Contains("more than 64 header fields"));
    // 64 are fine.
    std::string enough = "GET / HTTP/1.1\r\n";
    for (size_t index = 0; index < kMaxHeaderFields; ++index) {
        enough += "X-" + std::to_string(index) + ": y\r\n";
    }
    CHECK(request_of(enough + "\r\n").path == "/");
    // Endless empty lines before a request count to the head's limit.
    CHECK(failure_of(std::string(kMaxRequestHead + 2, '\n')).status == 431);
}

TEST_CASE("http parser: Expect: 100-continue is noted until the body comes", "[api][http]") {
    HttpRequestParser parser;
    parser.consume("PUT /vm HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 2\r\n\r\n");
    REQUIRE(parser.state() == State::Body);
    CHECK(parser.expects_continue());
    parser.consume("{}");
    CHECK(parser.state() == State::Complete);
    CHECK_FALSE(parser.expects_continue());
}

TEST_CASE("http parser: failure messages hold none of the client's bytes", "[api][http]") {
    // Every message is fixed text (or validated digits): safe in a log line
    // and in a JSON fault_message.
    for (std::string_view text : {std::string_view("GET /\x01\x02 HTTP/1.1\r\n\r\n"),
                                  std::string_view("GET /%00\n\x1b HTTP/1.1\r\n\r\n"),
                                  std::string_view("\x00\xff\x13garbage\r\n\r\n", 14)}) {
        HttpFailure failed = failure_of(text);
        for (char c : failed.message) {
            CHECK((c >= 0x20 && c < 0x7f));
        }
    }
}

TEST_CASE("http path decoding", "[api][http]") {
    CHECK(*decode_path("/a%2Fb%20c") == "/a/b c");
    CHECK(*decode_path("/%41%42") == "/AB");
    CHECK_FALSE(decode_path("/%00").ok());
    CHECK_FALSE(decode_path("/%7f").ok());
    CHECK_FALSE(decode_path("/%80").ok());
    CHECK_FALSE(decode_path("/%").ok());
    CHECK_FALSE(decode_path("/%1").ok());
}
