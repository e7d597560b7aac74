// The REST API's HTTP/1.1 server on a unix socket (libmicrohttpd, one
// internal poll() thread named "skiff-api"; poll rather than epoll: level-
// triggered, it notices a client that sends a partial request and then
// shuts down its side, and 64 descriptors are nothing to poll). Each request goes through
// handle_request (router.h), one at a time, so the Controller sees the
// requests in order and never two at once.
//
// Limits: 64 connections, 30 s of inactivity per connection, request bodies
// of at most 51200 bytes (Firecracker's default maximum payload; more is a
// 413 with a fault_message, and the connection is closed after it; a
// chunked body is read and dropped up to 1 MiB for that, beyond it the
// server hangs up without an answer). A client that sends garbage or goes away in
// the middle of a request costs only its own connection.
#pragma once

#include "vmm/api/controller.h"
#include "vmm/api/unix_listener.h"
#include "vmm/result.h"

#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

struct MHD_Daemon;

namespace skiff::api {

inline constexpr size_t kMaxRequestBody = 51200;
inline constexpr unsigned kMaxConnections = 64;
inline constexpr unsigned kConnectionTimeoutSeconds = 30;

class ApiServer final {
public:
    // Listens on `socket_path` (see unix_listener.h for an existing path)
    // and serves until destroyed. `controller` must outlive the server.
    // With `owner`, the socket file is given to that user and group.
    static Result<std::unique_ptr<ApiServer>> start(const std::string& socket_path, Controller& controller,
                                                    std::optional<SocketOwner> owner = {});

    // Stops the server (a request in progress completes first) and removes
    // the socket file.
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    [[nodiscard]] const std::string& socket_path() const { return socket_path_; }

    // For libmicrohttpd's callbacks (http_server.cpp); not for callers.
    struct Access;

private:
    ApiServer(std::string socket_path, Controller& controller)
        : socket_path_(std::move(socket_path)), controller_(controller) {}

    std::string socket_path_;
    Controller& controller_;
    std::mutex requests_;  // one request at a time into the Controller
    MHD_Daemon* daemon_ = nullptr;
    SocketFile socket_file_;
};

}  // namespace skiff::api
