// The REST API's HTTP/1.1 server on a unix socket: skiff's own (the
// request parser, http_request_parser.h; a connection's buffers and
// deadlines, http_connection.h), one thread named "skiff-api" running a
// poll() loop. poll rather than epoll: level-triggered, and 64 descriptors
// are nothing to poll. Each request goes through handle_request
// (router.h), one at a time, so the Controller sees the requests in order
// and never two at once.
//
// Limits, so that no local client can take the control channel away from
// the runtime that owns the VM (docs/api.md):
// - at most 64 connections; a 65th client is still served: the server
//   closes the connection that closing costs least (one closing anyway,
//   else the one idle the longest, else the slowest request, with a 503)
// - 30 s idle between requests; 10 s for a whole request (line, header
//   fields, body) from its first byte, else 408; 10 s to take a response
// - the head at most 8 KiB and 64 fields (431); bodies at most 51200 bytes
//   (Firecracker's default maximum payload; more is a 413 with a
//   fault_message as soon as the Content-Length is read, then the
//   connection closes); no Transfer-Encoding (400, as in Firecracker).
// A client that sends garbage, stalls or goes away in the middle of a
// request costs only its own connection.
#pragma once

#include "vmm/api/controller.h"
#include "vmm/api/http_connection.h"
#include "vmm/api/unix_listener.h"
#include "vmm/event_fd.h"
#include "vmm/result.h"

#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <thread>

namespace skiff::api {

inline constexpr unsigned kMaxConnections = 64;

struct ServerLimits {
    size_t max_connections = kMaxConnections;
    ConnectionLimits connection;
};

class ApiServer final {
public:
    // Listens on `socket_path` (see unix_listener.h for an existing path)
    // and serves until destroyed. `controller` must outlive the server.
    // With `owner`, the socket file is given to that user and group.
    // `limits`: the defaults above; tests shorten them.
    static Result<std::unique_ptr<ApiServer>> start(const std::string& socket_path, Controller& controller,
                                                    std::optional<SocketOwner> owner = {},
                                                    ServerLimits limits = {});

    // Stops the server (a request in progress completes first) and removes
    // the socket file.
    ~ApiServer();
    ApiServer(const ApiServer&) = delete;
    ApiServer& operator=(const ApiServer&) = delete;

    [[nodiscard]] const std::string& socket_path() const { return socket_path_; }

private:
    ApiServer(std::string socket_path, Controller& controller, UnixListener listener, EventFd stop,
              ServerLimits limits);

    void serve();
    Response answer(const HttpRequest& request);

    std::string socket_path_;
    Controller& controller_;
    UnixListener listener_;
    EventFd stop_;
    ServerLimits limits_;
    std::thread thread_;
};

}  // namespace skiff::api
