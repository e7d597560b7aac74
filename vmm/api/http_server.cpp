#include "vmm/api/http_server.h"

#include "vmm/api/router.h"
#include "vmm/seccomp.h"

#include <microhttpd.h>
#include <pthread.h>
#include <spdlog/spdlog.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string_view>

namespace skiff::api {

namespace {

// One request's body as it arrives; freed when MHD reports the request
// done, also when the client went away in the middle of it.
struct PendingRequest {
    std::string body;
    bool too_large = false;
    size_t discarded = 0;
};

// How much of a too large chunked body is read (and dropped) before the
// connection is closed without an answer.
constexpr size_t kMaxDiscardedBody = 1024 * 1024;

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
void log_from_microhttpd(void*, const char* format, va_list arguments) {
    char text[512];
    std::vsnprintf(text, sizeof(text), format, arguments);
    std::string_view message(text);
    while (message.ends_with('\n')) {
        message.remove_suffix(1);
    }
    spdlog::debug("API server (libmicrohttpd): {}", message);
}
#pragma GCC diagnostic pop

MHD_Result queue(MHD_Connection* connection, const Response& response) {
    // MUST_COPY: MHD keeps its own copy, `response` may go.
    MHD_Response* reply = MHD_create_response_from_buffer(
        response.body.size(), const_cast<char*>(response.body.data()), MHD_RESPMEM_MUST_COPY);
    if (reply == nullptr) {
        return MHD_NO;
    }
    if (!response.body.empty()) {
        MHD_add_response_header(reply, MHD_HTTP_HEADER_CONTENT_TYPE, "application/json");
    }
    if (!response.allow.empty()) {
        MHD_add_response_header(reply, MHD_HTTP_HEADER_ALLOW, response.allow.c_str());
    }
    if (response.status == kStatusPayloadTooLarge) {
        // The rest of the body may still be on its way: hang up after this.
        MHD_add_response_header(reply, MHD_HTTP_HEADER_CONNECTION, "close");
    }
    MHD_Result result = MHD_queue_response(connection, static_cast<unsigned>(response.status), reply);
    MHD_destroy_response(reply);
    return result;
}

Response too_large() {
    return fault(kStatusPayloadTooLarge,
                 fmt::format("the request body is larger than {} bytes, the most skiff's API takes", kMaxRequestBody));
}

// The Content-Length the client declared, if any and a number.
std::optional<uint64_t> declared_length(MHD_Connection* connection) {
    const char* value = MHD_lookup_connection_value(connection, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (value == nullptr) {
        return std::nullopt;
    }
    char* end = nullptr;
    uint64_t length = std::strtoull(value, &end, 10);
    return end != value ? std::optional<uint64_t>(length) : std::nullopt;
}

// MHD's thread has a name of its own: the API's is easier to find in top
// and gdb. Named on its first connection (MHD offers no start hook).
void name_thread() {
    thread_local bool named = false;
    if (!named) {
        pthread_setname_np(pthread_self(), "skiff-api");
        named = true;
    }
}

// The API thread's seccomp filter goes on once the VM is built
// (seccomp::arm, in VmInstance::launch): at the first connection after
// that, before MHD reads a byte of it, and at the end of the request that
// started the VM (InstanceStart) when that ran on this thread.
void filter_thread() {
    if (auto installed = seccomp::install_if_armed(seccomp::ThreadKind::Api); !installed.ok()) {
        spdlog::error("API server: {}", installed.error().message);
    }
}

}  // namespace

struct ApiServer::Access {
    static MHD_Result handle(void* server_pointer, MHD_Connection* connection, const char* url, const char* method,
                             const char*, const char* upload_data, size_t* upload_size, void** state) {
        name_thread();
        filter_thread();
        auto& server = *static_cast<ApiServer*>(server_pointer);
        auto* pending = static_cast<PendingRequest*>(*state);
        if (pending == nullptr) {  // the headers are in
            *state = new PendingRequest;
            if (declared_length(connection).value_or(0) > kMaxRequestBody) {
                return reply(connection, method, url, too_large());
            }
            return MHD_YES;
        }
        if (*upload_size > 0) {  // a piece of the body
            size_t size = *upload_size;
            *upload_size = 0;
            // A chunked body that outgrows the limit: libmicrohttpd takes no
            // response before the body's end, so the rest is read and
            // dropped (the 413 follows), up to a point where it hangs up.
            if (pending->too_large || pending->body.size() + size > kMaxRequestBody) {
                pending->body.clear();
                pending->too_large = true;
                pending->discarded += size;
                return pending->discarded > kMaxDiscardedBody ? MHD_NO : MHD_YES;
            }
            pending->body.append(upload_data, size);
            return MHD_YES;
        }
        if (pending->too_large) {
            return reply(connection, method, url, too_large());
        }
        Response response;
        {
            std::lock_guard lock(server.requests_);
            response = handle_request(server.controller_, method, url, pending->body);
        }
        filter_thread();  // InstanceStart may just have built the VM on this thread
        return reply(connection, method, url, response);
    }

    static void connection_changed(void*, MHD_Connection*, void**, MHD_ConnectionNotificationCode code) {
        if (code == MHD_CONNECTION_NOTIFY_STARTED) {
            name_thread();
            filter_thread();
        }
    }

    static void completed(void*, MHD_Connection*, void** state, MHD_RequestTerminationCode) {
        delete static_cast<PendingRequest*>(*state);
        *state = nullptr;
    }

    static MHD_Result reply(MHD_Connection* connection, const char* method, const char* url,
                            const Response& response) {
        if (response.status >= kStatusBadRequest) {
            spdlog::info("API: {} {} -> {} {}", method, url, response.status, response.body);
        } else {
            spdlog::debug("API: {} {} -> {}", method, url, response.status);
        }
        return queue(connection, response);
    }
};

Result<std::unique_ptr<ApiServer>> ApiServer::start(const std::string& socket_path, Controller& controller,
                                                    std::optional<SocketOwner> owner) {
    UnixListener listener = TRY(listen_unix(socket_path, static_cast<int>(kMaxConnections), owner));
    std::unique_ptr<ApiServer> server(new ApiServer(socket_path, controller));

    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ITC | MHD_USE_ERROR_LOG;
    server->daemon_ = MHD_start_daemon(
        flags, 0, nullptr, nullptr, &Access::handle, server.get(),
        MHD_OPTION_EXTERNAL_LOGGER, &log_from_microhttpd, nullptr,
        MHD_OPTION_LISTEN_SOCKET, static_cast<MHD_socket>(listener.socket.get()),
        MHD_OPTION_CONNECTION_LIMIT, kMaxConnections,
        MHD_OPTION_CONNECTION_TIMEOUT, kConnectionTimeoutSeconds,
        MHD_OPTION_NOTIFY_COMPLETED, &Access::completed, nullptr,
        MHD_OPTION_NOTIFY_CONNECTION, &Access::connection_changed, nullptr,
        MHD_OPTION_END);
    if (server->daemon_ == nullptr) {
        remove_socket_file(listener.file);
        return Error::format("starting the API server on {} failed (libmicrohttpd; --level debug shows why)",
                             socket_path);
    }
    (void)listener.socket.release();  // MHD_stop_daemon closes it
    server->socket_file_ = std::move(listener.file);
    spdlog::info("API listening on {}", socket_path);
    return server;
}

ApiServer::~ApiServer() {
    if (daemon_ != nullptr) {
        MHD_stop_daemon(daemon_);
    }
    remove_socket_file(socket_file_);
}

}  // namespace skiff::api
