// Firecracker's REST API on a Controller, independent of the transport:
// one request (method, path, body) in, one response (status, JSON body) out.
// The HTTP server (http_server.h) and the fuzz target call it.
//
//   GET   /                         200 InstanceInfo
//   GET   /version                  200 {"firecracker_version", "skiff_version"}
//   GET   /vm/config                200 the whole configuration
//   PUT   /boot-source              204
//   GET   /machine-config           200
//   PUT   /machine-config           204 (all fields; those left out reset)
//   PATCH /machine-config           204 (only the fields given)
//   PUT   /network-interfaces/{id}  204 (pre-boot)
//   PATCH /network-interfaces/{id}  204 (post-boot: new rate limiters)
//   PUT   /actions                  204 InstanceStart, SendCtrlAltDel, FlushMetrics
//   PATCH /vm                       204 Paused, Resumed
//   PUT   /logger, PUT /metrics     204
//
// Errors carry {"fault_message": "..."}: 400 for a bad body or a refused
// operation (the Controller's message), as Firecracker answers, and for
// Firecracker paths skiff does not implement (/drives, /vsock, ...); 404 for
// any other path; 405 for a known path with another method.
#pragma once

#include "vmm/api/controller.h"
#include "vmm/api/http_status.h"

#include <string>
#include <string_view>

namespace skiff::api {

struct Response {
    int status = kStatusNoContent;
    std::string body;  // JSON, or empty (204)
    std::string allow;  // 405: the methods the path takes ("GET, PUT")
};

// A response with {"fault_message": message}.
Response fault(int status, std::string_view message);

// Never throws: whatever the method, path and body, the answer is a
// Response (500 if the Controller throws).
Response handle_request(Controller& controller, std::string_view method, std::string_view path,
                        std::string_view body);

}  // namespace skiff::api
