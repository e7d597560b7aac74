// The HTTP statuses skiff's API answers with, and their reason phrases.
#pragma once

#include <string_view>

namespace skiff::api {

inline constexpr int kStatusContinue = 100;
inline constexpr int kStatusOk = 200;
inline constexpr int kStatusNoContent = 204;
inline constexpr int kStatusBadRequest = 400;
inline constexpr int kStatusNotFound = 404;
inline constexpr int kStatusMethodNotAllowed = 405;
inline constexpr int kStatusRequestTimeout = 408;
inline constexpr int kStatusPayloadTooLarge = 413;
inline constexpr int kStatusExpectationFailed = 417;
inline constexpr int kStatusHeaderFieldsTooLarge = 431;
inline constexpr int kStatusInternalError = 500;
inline constexpr int kStatusServiceUnavailable = 503;
inline constexpr int kStatusVersionNotSupported = 505;

// "Not Found" for 404; "Unknown" for a status not listed above.
std::string_view reason_phrase(int status);

}  // namespace skiff::api
