// A Response (router.h) as the bytes of an HTTP/1.1 response: the status
// line, Content-Type and Content-Length when there is a body (none for 204
// or 1xx, as RFC 9110 wants), Allow for a 405, Connection: close when the
// server hangs up after it.
#pragma once

#include "vmm/api/router.h"

#include <string>
#include <string_view>

namespace skiff::api {

enum class AfterResponse { KeepOpen, Close };

std::string serialize_response(const Response& response, AfterResponse after);

// The interim answer to "Expect: 100-continue".
inline constexpr std::string_view kContinueResponse = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace skiff::api
