#include "vmm/api/http_response.h"

#include <fmt/format.h>

namespace skiff::api {

std::string_view reason_phrase(int status) {
    switch (status) {
        case kStatusContinue: return "Continue";
        case kStatusOk: return "OK";
        case kStatusNoContent: return "No Content";
        case kStatusBadRequest: return "Bad Request";
        case kStatusNotFound: return "Not Found";
        case kStatusMethodNotAllowed: return "Method Not Allowed";
        case kStatusRequestTimeout: return "Request Timeout";
        case kStatusPayloadTooLarge: return "Payload Too Large";
        case kStatusExpectationFailed: return "Expectation Failed";
        case kStatusHeaderFieldsTooLarge: return "Request Header Fields Too Large";
        case kStatusInternalError: return "Internal Server Error";
        case kStatusServiceUnavailable: return "Service Unavailable";
        case kStatusVersionNotSupported: return "HTTP Version Not Supported";
        default: return "Unknown";
    }
}

std::string serialize_response(const Response& response, AfterResponse after) {
    std::string text = fmt::format("HTTP/1.1 {} {}\r\nServer: skiff\r\n", response.status,
                                   reason_phrase(response.status));
    bool bodiless = response.status == kStatusNoContent || response.status < kStatusOk;
    if (!bodiless) {
        if (!response.body.empty()) {
            text += "Content-Type: application/json\r\n";
        }
        text += fmt::format("Content-Length: {}\r\n", response.body.size());
    }
    if (!response.allow.empty()) {
        text += fmt::format("Allow: {}\r\n", response.allow);
    }
    if (after == AfterResponse::Close) {
        text += "Connection: close\r\n";
    }
    text += "\r\n";
    if (!bodiless) {
        text += response.body;
    }
    return text;
}

}  // namespace skiff::api
