#include "vmm/api/http_server.h"

#include "vmm/api/router.h"
#include "vmm/log_limit.h"
#include "vmm/seccomp.h"

#include <poll.h>
#include <pthread.h>
#include <spdlog/spdlog.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <vector>

namespace skiff::api {

namespace {

using Clock = HttpConnection::Clock;

// Connections accepted per turn of the loop: the ones already open get
// their turn between batches.
constexpr int kAcceptsPerTurn = 16;
// poll() wakes at least this often (nothing depends on it; a bound).
constexpr std::chrono::milliseconds kLongestWait{60000};

// The API thread's seccomp filter goes on once the VM is built
// (seccomp::arm, in VmInstance::launch): at the first turn of the loop
// after that, and at the end of the request that started the VM
// (InstanceStart) when that ran on this thread.
void filter_thread() {
    if (auto installed = seccomp::install_if_armed(seccomp::ThreadKind::Api); !installed.ok()) {
        spdlog::error("API server: {}", installed.error().message);
    }
}

int poll_timeout(const std::vector<HttpConnection>& connections) {
    if (connections.empty()) {
        return -1;
    }
    Clock::time_point next = Clock::time_point::max();
    for (const auto& connection : connections) {
        next = std::min(next, connection.deadline());
    }
    auto wait = std::chrono::ceil<std::chrono::milliseconds>(next - Clock::now());
    return static_cast<int>(std::clamp(wait, std::chrono::milliseconds(0), kLongestWait).count());
}

// The connection to close for a new one, among the first `candidates`
// (those accepted before this turn: a client just accepted has had no turn
// to send yet): by activity (a closing one, an idle one, a receiving one,
// a sending one), then the oldest. Returns whether one was closed.
bool evict_one(std::vector<HttpConnection>& connections, size_t candidates) {
    auto end = connections.begin() + static_cast<std::ptrdiff_t>(std::min(candidates, connections.size()));
    auto victim = std::min_element(connections.begin(), end, [](const HttpConnection& a, const HttpConnection& b) {
        if (a.activity() != b.activity()) {
            return a.activity() < b.activity();
        }
        return a.since() < b.since();
    });
    if (victim == end) {
        return false;
    }
    SKIFF_LOG_LIMITED(spdlog::level::info,
                      "API: {} connections open, the most it keeps: closed the {} one for a new client",
                      connections.size(),
                      victim->activity() == HttpConnection::Activity::Receiving ? "slowest" : "oldest idle");
    victim->evict();
    connections.erase(victim);
    return true;
}

// Accepts waiting clients and reads what each has sent already (a client
// usually sends its request before the server accepts it): it is answered
// this turn, before another new client could push it out.
void accept_clients(int listener, std::vector<HttpConnection>& connections, const ServerLimits& limits,
                    const HttpConnection::Handler& handler) {
    size_t older = connections.size();
    for (int accepted = 0; accepted < kAcceptsPerTurn; ++accepted) {
        int fd = ::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EINTR || errno == ECONNABORTED) {
                continue;
            }
            if (errno != EAGAIN && errno != EWOULDBLOCK) {
                SKIFF_WARN_LIMITED("API: accepting a client failed: {}", std::strerror(errno));
            }
            return;
        }
        if (connections.size() >= std::max<size_t>(limits.max_connections, 1)) {
            if (evict_one(connections, older)) {
                --older;
            } else {
                evict_one(connections, connections.size());  // more new clients than places
            }
        }
        connections.emplace_back(UniqueFd(fd), limits.connection);
        connections.back().on_ready(POLLIN, handler);
    }
}

}  // namespace

ApiServer::ApiServer(std::string socket_path, Controller& controller, UnixListener listener, EventFd stop,
                     ServerLimits limits)
    : socket_path_(std::move(socket_path)),
      controller_(controller),
      listener_(std::move(listener)),
      stop_(std::move(stop)),
      limits_(limits) {}

Result<std::unique_ptr<ApiServer>> ApiServer::start(const std::string& socket_path, Controller& controller,
                                                    std::optional<SocketOwner> owner, ServerLimits limits) {
    auto stop = EventFd::create();
    if (!stop.ok()) {
        return stop.error().context("starting the API server");
    }
    UnixListener listener = TRY(listen_unix(socket_path, static_cast<int>(kMaxConnections), owner));
    std::unique_ptr<ApiServer> server(
        new ApiServer(socket_path, controller, std::move(listener), std::move(*stop), limits));
    server->thread_ = std::thread([raw = server.get()] { raw->serve(); });
    spdlog::info("API listening on {}", socket_path);
    return server;
}

ApiServer::~ApiServer() {
    stop_.signal();
    if (thread_.joinable()) {
        thread_.join();
    }
    listener_.socket.reset();
    remove_socket_file(listener_.file);
}

Response ApiServer::answer(const HttpRequest& request) {
    Response response = handle_request(controller_, request.method, request.path, request.body);
    filter_thread();  // InstanceStart may just have built the VM on this thread
    // The method is a token and the path printable ASCII (the parser made
    // sure): nothing here can break the log line.
    if (response.status >= kStatusBadRequest) {
        spdlog::info("API: {} {} -> {} {}", request.method, request.path, response.status, response.body);
    } else {
        spdlog::debug("API: {} {} -> {}", request.method, request.path, response.status);
    }
    return response;
}

void ApiServer::serve() {
    ::pthread_setname_np(::pthread_self(), "skiff-api");
    const HttpConnection::Handler handler = [this](const HttpRequest& request) { return answer(request); };
    std::vector<HttpConnection> connections;
    std::vector<pollfd> polled;
    for (;;) {
        filter_thread();
        polled.clear();
        polled.push_back(pollfd{stop_.fd(), POLLIN, 0});
        polled.push_back(pollfd{listener_.socket.get(), POLLIN, 0});
        for (const auto& connection : connections) {
            polled.push_back(pollfd{connection.fd(), connection.poll_events(), 0});
        }
        int ready = ::poll(polled.data(), polled.size(), poll_timeout(connections));
        if (ready < 0 && errno != EINTR) {
            SKIFF_WARN_LIMITED("API: poll failed: {}", std::strerror(errno));
            continue;
        }
        if (ready > 0 && polled[0].revents != 0) {
            return;  // the server is being destroyed
        }
        for (size_t index = 0; ready > 0 && index < connections.size(); ++index) {
            if (short revents = polled[index + 2].revents; revents != 0) {
                connections[index].on_ready(revents, handler);
            }
        }
        // After reading: a request that came while another one took long
        // (InstanceStart) is not timed out unread.
        Clock::time_point now = Clock::now();
        for (auto& connection : connections) {
            if (!connection.closed() && connection.deadline() <= now) {
                connection.on_deadline();
            }
        }
        auto is_closed = [](const HttpConnection& connection) { return connection.closed(); };
        std::erase_if(connections, is_closed);
        if (ready > 0 && (polled[1].revents & POLLIN) != 0) {
            accept_clients(listener_.socket.get(), connections, limits_, handler);
            std::erase_if(connections, is_closed);
        }
    }
}

}  // namespace skiff::api
