// The API's HTTP server on a real unix socket, driven by a raw socket
// client (no HTTP library on the client side: the test controls every byte).
#include "tests/unit/fake_controller.h"
#include "vmm/api/http_server.h"
#include "vmm/seccomp.h"
#include "vmm/unique_fd.h"

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>
#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

using namespace skiff;
using namespace skiff::api;
using skiff::testing::FakeController;

namespace {

// A private directory under /tmp, removed with what is left in it.
class TempDirectory {
public:
    TempDirectory() {
        char name[] = "/tmp/skiff-api-test-XXXXXX";
        REQUIRE(::mkdtemp(name) != nullptr);
        path_ = name;
    }
    ~TempDirectory() {
        for (const char* file : {"api.sock", "file", "other.sock"}) {
            ::unlink((path_ + "/" + file).c_str());
        }
        ::rmdir(path_.c_str());
    }
    [[nodiscard]] std::string file(const char* name) const { return path_ + "/" + name; }

private:
    std::string path_;
};

sockaddr_un address_of(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

UniqueFd connect_to(const std::string& path) {
    UniqueFd socket(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    REQUIRE(socket.valid());
    sockaddr_un address = address_of(path);
    REQUIRE(::connect(socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
    timeval timeout{5, 0};  // a hung server fails the test instead of hanging it
    ::setsockopt(socket.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    return socket;
}

void send_all(int socket, std::string_view data) {
    while (!data.empty()) {
        ssize_t sent = ::send(socket, data.data(), data.size(), MSG_NOSIGNAL);
        if (sent <= 0) {
            return;  // the server may close early (413): the reply is still readable
        }
        data.remove_prefix(static_cast<size_t>(sent));
    }
}

std::string read_all(int socket) {
    std::string text;
    char buffer[4096];
    for (;;) {
        ssize_t got = ::recv(socket, buffer, sizeof(buffer), 0);
        if (got <= 0) {
            return text;
        }
        text.append(buffer, static_cast<size_t>(got));
    }
}

struct HttpReply {
    int status = 0;  // 0: closed without a reply
    std::string head;
    std::string body;
};

HttpReply parse_reply(const std::string& text) {
    HttpReply reply;
    if (text.size() < 12 || !text.starts_with("HTTP/1.")) {
        return reply;
    }
    reply.status = std::stoi(text.substr(9, 3));
    size_t end = text.find("\r\n\r\n");
    reply.head = text.substr(0, end);
    reply.body = end == std::string::npos ? "" : text.substr(end + 4);
    return reply;
}

// Sends raw bytes on a new connection and reads until the server closes it;
// `end` also closes the client's sending side (the server sees the end of
// an incomplete request).
enum class Ending { KeepOpen, ShutdownWrite };
HttpReply exchange_raw(const std::string& socket_path, std::string_view request, Ending end = Ending::KeepOpen) {
    UniqueFd socket = connect_to(socket_path);
    send_all(socket.get(), request);
    if (end == Ending::ShutdownWrite) {
        ::shutdown(socket.get(), SHUT_WR);
    }
    return parse_reply(read_all(socket.get()));
}

HttpReply exchange(const std::string& socket_path, const std::string& method, const std::string& path,
                   const std::string& body = "") {
    std::string request = method + " " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n";
    if (!body.empty()) {
        request += "Content-Type: application/json\r\nContent-Length: " + std::to_string(body.size()) + "\r\n";
    }
    request += "\r\n" + body;
    return exchange_raw(socket_path, request);
}

std::string fault_message(const HttpReply& reply) {
    return nlohmann::json::parse(reply.body).at("fault_message").get<std::string>();
}

bool exists(const std::string& path) {
    struct stat status {};
    return ::lstat(path.c_str(), &status) == 0;
}

}  // namespace

TEST_CASE("the API server answers over its unix socket, whatever the clients do", "[api][server]") {
    TempDirectory directory;
    const std::string path = directory.file("api.sock");
    FakeController controller;
    {
        auto server = ApiServer::start(path, controller);
        REQUIRE(server.ok());
        CHECK(exists(path));

        // A normal request.
        HttpReply info = exchange(path, "GET", "/");
        REQUIRE(info.status == 200);
        CHECK_THAT(info.head, Catch::Contains("Content-Type: application/json"));
        CHECK(nlohmann::json::parse(info.body)["state"] == "Not started");
        HttpReply put = exchange(path, "PUT", "/machine-config", R"({"vcpu_count": 2, "mem_size_mib": 256})");
        CHECK(put.status == 204);
        CHECK(put.body.empty());
        CHECK(controller.resources().machine_config.vcpu_count == 2);

        // Router errors come through with their status and fault message.
        HttpReply missing = exchange(path, "GET", "/nothing");
        CHECK(missing.status == 404);
        CHECK_THAT(fault_message(missing), Catch::StartsWith("no such resource: GET /nothing"));
        HttpReply wrong_method = exchange(path, "DELETE", "/machine-config");
        CHECK(wrong_method.status == 405);
        CHECK_THAT(wrong_method.head, Catch::Contains("Allow: GET, PUT, PATCH"));
        HttpReply no_body = exchange(path, "PUT", "/boot-source");
        CHECK(no_body.status == 400);
        CHECK(fault_message(no_body) == "PUT /boot-source needs a JSON body");

        // Malformed HTTP: 400 with a fault_message, the Controller never sees it.
        for (std::string_view garbage : {std::string_view("this is not HTTP\r\n\r\n"),
                                         std::string_view("GET / HTTP/1.1\r\nbroken header line\r\n\r\n"),
                                         std::string_view("\x00\x01\x02\r\n\r\n", 7)}) {
            HttpReply reply = exchange_raw(path, garbage, Ending::ShutdownWrite);
            INFO(reply.head);
            CHECK(reply.status == 400);
            CHECK_THAT(reply.head, Catch::Contains("Connection: close"));
            CHECK_FALSE(fault_message(reply).empty());
        }

        // Bodies over 51200 bytes: declared, or sent in chunks without a length.
        std::string huge(kMaxRequestBody + 1, ' ');
        HttpReply declared = exchange(path, "PUT", "/boot-source", huge);
        CHECK(declared.status == 413);
        CHECK_THAT(fault_message(declared), Catch::Contains("larger than 51200 bytes"));
        std::string chunked = "PUT /boot-source HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n";
        for (int i = 0; i < 60; ++i) {
            chunked += "400\r\n" + std::string(1024, ' ') + "\r\n";
        }
        chunked += "0\r\n\r\n";
        // Chunked bodies are not read (as in Firecracker): 400 at the head,
        // with a fault_message saying to send a Content-Length.
        HttpReply streamed = exchange_raw(path, chunked);
        CHECK(streamed.status == 400);
        CHECK_THAT(fault_message(streamed), Catch::Contains("Transfer-Encoding"));
        // 2.5 MB of chunks: the answer is there to read all the same, the
        // connection closed after it.
        UniqueFd flood = connect_to(path);
        send_all(flood.get(), "PUT /boot-source HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        std::string chunk = "10000\r\n" + std::string(0x10000, ' ') + "\r\n";
        for (int i = 0; i < 40; ++i) {
            send_all(flood.get(), chunk);
        }
        HttpReply flooded = parse_reply(read_all(flood.get()));
        CHECK(flooded.status == 400);
        CHECK_THAT(fault_message(flooded), Catch::Contains("Transfer-Encoding"));
        HttpReply exactly = exchange(path, "PUT", "/logger", "{}" + std::string(kMaxRequestBody - 2, ' '));
        CHECK(exactly.status == 204);  // the limit itself is fine

        // A client that goes away in the middle of its request.
        {
            UniqueFd quitter = connect_to(path);
            send_all(quitter.get(), "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"kern");
        }
        // One that stalls mid-request holds only its own connection.
        UniqueFd staller = connect_to(path);
        send_all(staller.get(), "PUT /boot-source HTTP/1.1\r\nHost: x\r\nContent-Len");
        CHECK(exchange(path, "GET", "/version").status == 200);

        // 20 clients at once; the Controller sees them one at a time.
        std::vector<std::thread> clients;
        std::vector<int> statuses(20);
        for (int i = 0; i < 20; ++i) {
            clients.emplace_back([&, i] {
                std::string id = "eth" + std::to_string(i);
                statuses[static_cast<size_t>(i)] =
                    exchange(path, "PUT", "/network-interfaces/" + id,
                             R"({"iface_id": ")" + id + R"(", "host_dev_name": "tap)" + std::to_string(i) + R"("})")
                        .status;
            });
        }
        for (auto& client : clients) {
            client.join();
        }
        CHECK(statuses == std::vector<int>(20, 204));

        // Still serving after all that.
        HttpReply config = exchange(path, "GET", "/vm/config");
        REQUIRE(config.status == 200);
        CHECK(nlohmann::json::parse(config.body)["network-interfaces"].size() == 20);
        CHECK(controller.resources().boot_source == std::nullopt);  // no partial body got through

        // Keep-alive: two requests on one connection.
        UniqueFd keep = connect_to(path);
        send_all(keep.get(),
                 "GET /version HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        std::string both = read_all(keep.get());
        CHECK(both.find("firecracker_version") != std::string::npos);
        CHECK(both.find("fake-vm") != std::string::npos);
    }
    CHECK_FALSE(exists(path));  // removed when the server stops
}

TEST_CASE("the API socket path: stale sockets are reused, anything else refused", "[api][server]") {
    TempDirectory directory;
    FakeController controller;

    const std::string file = directory.file("file");
    std::ofstream(file) << "not a socket";
    auto on_file = ApiServer::start(file, controller);
    REQUIRE_FALSE(on_file.ok());
    CHECK_THAT(on_file.error().message, Catch::Contains("exists and is not a socket: remove it or pick another"));
    CHECK(exists(file));

    // A socket someone listens on.
    const std::string other = directory.file("other.sock");
    {
        UniqueFd listening(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        sockaddr_un address = address_of(other);
        REQUIRE(::bind(listening.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0);
        REQUIRE(::listen(listening.get(), 1) == 0);
        auto in_use = ApiServer::start(other, controller);
        REQUIRE_FALSE(in_use.ok());
        CHECK_THAT(in_use.error().message, Catch::Contains("a process listens on it"));
    }
    // The same socket file after its owner has gone: stale, reused.
    REQUIRE(exists(other));
    {
        auto reused = ApiServer::start(other, controller);
        REQUIRE(reused.ok());
        CHECK(exchange(other, "GET", "/").status == 200);
    }
    CHECK_FALSE(exists(other));

    auto too_long = ApiServer::start("/tmp/" + std::string(200, 'x'), controller);
    REQUIRE_FALSE(too_long.ok());
    CHECK_THAT(too_long.error().message, Catch::Contains("a unix socket path takes 1 to 107"));
    auto no_directory = ApiServer::start(directory.file("missing/api.sock"), controller);
    REQUIRE_FALSE(no_directory.ok());
    CHECK_THAT(no_directory.error().message, Catch::StartsWith("binding the API socket to"));
}

namespace {

// Whether the server closed `socket` (reads what is left first).
bool closed_by_server(int socket) {
    char buffer[4096];
    for (;;) {
        ssize_t got = ::recv(socket, buffer, sizeof(buffer), 0);
        if (got == 0 || (got < 0 && errno == ECONNRESET)) {
            return true;
        }
        if (got < 0) {
            return false;  // the 5 s receive timeout
        }
    }
}

size_t count_of(const std::string& text, std::string_view what) {
    size_t count = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) {
        ++count;
    }
    return count;
}

}  // namespace

TEST_CASE("the API server: a full house of idle or slow clients never locks a new one out", "[api][server]") {
    TempDirectory directory;
    const std::string path = directory.file("api.sock");
    FakeController controller;
    ServerLimits limits;
    limits.connection.request = std::chrono::milliseconds(1500);
    auto server = ApiServer::start(path, controller, {}, limits);
    REQUIRE(server.ok());

    // 64 idle connections: the 65th client is answered at once, and the
    // oldest idle connection made way for it.
    std::vector<UniqueFd> idle;
    for (unsigned i = 0; i < kMaxConnections; ++i) {
        idle.push_back(connect_to(path));
    }
    auto started = std::chrono::steady_clock::now();
    CHECK(exchange(path, "GET", "/").status == 200);
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(2));
    CHECK(closed_by_server(idle.front().get()));
    idle.clear();
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the server sees them go

    // 64 slow clients, each in the middle of a request: a new client is
    // answered, the slowest gets a 503 and is closed.
    std::vector<UniqueFd> slow;
    for (unsigned i = 0; i < kMaxConnections; ++i) {
        slow.push_back(connect_to(path));
        send_all(slow.back().get(), "G");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));  // every "G" read: all mid-request
    HttpReply info = exchange(path, "GET", "/");
    CHECK(info.status == 200);
    HttpReply evicted = parse_reply(read_all(slow.front().get()));
    CHECK(evicted.status == 503);
    CHECK_THAT(fault_message(evicted), Catch::Contains("slowest"));

    // The rest run out of time: a request must arrive whole within the
    // request deadline of its first byte (1.5 s here), else 408.
    send_all(slow.back().get(), "ET / HTTP/1.1\r\nHo");
    HttpReply late = parse_reply(read_all(slow.back().get()));
    CHECK(late.status == 408);
    CHECK_THAT(fault_message(late), Catch::Contains("within 1.5 s of its first byte"));
    CHECK(exchange(path, "GET", "/version").status == 200);
}

TEST_CASE("the API server: idle connections time out", "[api][server]") {
    TempDirectory directory;
    const std::string path = directory.file("api.sock");
    FakeController controller;
    ServerLimits limits;
    limits.connection.idle = std::chrono::milliseconds(300);
    auto server = ApiServer::start(path, controller, {}, limits);
    REQUIRE(server.ok());
    UniqueFd quiet = connect_to(path);
    auto started = std::chrono::steady_clock::now();
    CHECK(closed_by_server(quiet.get()));
    CHECK(std::chrono::steady_clock::now() - started < std::chrono::seconds(3));

    // Keep-alive: idle again after each answer, closed after the last.
    UniqueFd kept = connect_to(path);
    send_all(kept.get(), "GET /version HTTP/1.1\r\n\r\n");
    std::string first = read_all(kept.get());  // until the server closes it
    CHECK(count_of(first, "HTTP/1.1 200 OK") == 1);
}

TEST_CASE("the API server: hostile requests get one answer each", "[api][server]") {
    TempDirectory directory;
    const std::string path = directory.file("api.sock");
    FakeController controller;
    auto server = ApiServer::start(path, controller);
    REQUIRE(server.ok());

    for (std::string_view lengths : {"Content-Length: -1\r\n", "Content-Length: 99999999999999999999\r\n",
                                     "Content-Length: 2\r\nContent-Length: 2\r\n"}) {
        INFO(lengths);
        UniqueFd client = connect_to(path);
        send_all(client.get(), "PUT /machine-config HTTP/1.1\r\nHost: x\r\n" + std::string(lengths) + "\r\n{}");
        std::string text = read_all(client.get());
        CHECK(count_of(text, "HTTP/1.1") == 1);
        HttpReply reply = parse_reply(text);
        CHECK(reply.status == 400);
        CHECK_THAT(fault_message(reply), Catch::Contains("Content-Length"));
    }
    HttpReply nul = exchange(path, "GET", "/machine-config%00xyz");
    CHECK(nul.status == 400);
    CHECK_THAT(fault_message(nul), Catch::Contains("%00"));

    HttpReply shadow = exchange(path, "PUT", "/boot-source",
                                R"({"kernel_image_path": "/tmp/testguest.elf\u0000/etc/shadow"})");
    CHECK(shadow.status == 400);
    CHECK_THAT(fault_message(shadow), Catch::Contains("kernel_image_path") && Catch::Contains("NUL"));
    CHECK(controller.resources().boot_source == std::nullopt);

    // Expect: 100-continue: the interim answer, then the real one.
    UniqueFd patient = connect_to(path);
    send_all(patient.get(), "PUT /logger HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n");
    char interim[64] = {};
    ssize_t got = ::recv(patient.get(), interim, sizeof(interim), 0);
    CHECK(std::string_view(interim, static_cast<size_t>(std::max<ssize_t>(got, 0))) ==
          "HTTP/1.1 100 Continue\r\n\r\n");
    send_all(patient.get(), "{}");
    ::shutdown(patient.get(), SHUT_WR);
    CHECK(parse_reply(read_all(patient.get())).status == 204);
}

namespace {

// The "Seccomp:" mode of this process's thread called `name` (2: a
// filter), -1 if there is none.
int seccomp_mode_of_thread(const std::string& name) {
    for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
        std::ifstream comm(task.path() / "comm");
        std::string thread_name;
        std::getline(comm, thread_name);
        if (thread_name != name) {
            continue;
        }
        std::ifstream status(task.path() / "status");
        for (std::string line; std::getline(status, line);) {
            if (line.starts_with("Seccomp:")) {
                return std::stoi(line.substr(8));
            }
        }
    }
    return -1;
}

// Every kind of client the loop handles, as bits of what went wrong (0:
// each got the expected answer).
int serve_every_kind_of_client(const std::string& path) {
    int wrong = 0;
    if (exchange(path, "GET", "/").status != 200) {
        wrong |= 1;
    }
    {
        std::vector<UniqueFd> idle;
        for (unsigned i = 0; i < kMaxConnections; ++i) {
            idle.push_back(connect_to(path));
        }
        if (exchange(path, "PUT", "/machine-config", R"({"vcpu_count": 1, "mem_size_mib": 64})").status != 204) {
            wrong |= 2;
        }
    }
    UniqueFd slow = connect_to(path);
    send_all(slow.get(), "GET / HTTP/1.1\r\nHo");
    if (parse_reply(read_all(slow.get())).status != 408) {
        wrong |= 4;
    }
    if (exchange_raw(path, "PUT /vm HTTP/1.1\r\nContent-Length: -1\r\n\r\n").status != 400) {
        wrong |= 8;
    }
    UniqueFd flood = connect_to(path);
    send_all(flood.get(), "PUT /boot-source HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n");
    for (int i = 0; i < 40; ++i) {
        send_all(flood.get(), std::string(0x10000, 'x'));
    }
    if (parse_reply(read_all(flood.get())).status != 400) {
        wrong |= 16;
    }
    UniqueFd pipelined = connect_to(path);
    send_all(pipelined.get(), "PUT /logger HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n{}"
                              "GET /version HTTP/1.1\r\nConnection: close\r\n\r\n");
    std::string both = read_all(pipelined.get());
    // The body came with the head: no 100 Continue is due, just the answers.
    if (count_of(both, "HTTP/1.1 ") != 2 || !both.starts_with("HTTP/1.1 204") ||
        both.find("firecracker_version") == std::string::npos) {
        wrong |= 32;
    }
    return wrong;
}

}  // namespace

// The api filter (vmm/seccomp.cpp) allows what the server's loop calls: in
// a forked child with the filters armed, the API thread filters itself and
// serves every kind of client; a forbidden call would end the child with
// exit status 6. (The sanitizer runtimes make calls of their own: their
// builds skip this.)
TEST_CASE("the API server's loop runs under the api seccomp filter", "[api][server][seccomp]") {
#if defined(__SANITIZE_ADDRESS__)
    return;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return;
#endif
#endif
    TempDirectory directory;
    const std::string path = directory.file("api.sock");
    ::fflush(nullptr);
    pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        int code = 0;
        try {
            // spdlog makes its registry, whose console sink probes the
            // terminal (ioctl), on first use: here, not on the API thread.
            spdlog::default_logger();
            FakeController controller;
            skiff::seccomp::arm(true);
            ServerLimits limits;
            limits.connection.request = std::chrono::milliseconds(300);
            auto server = ApiServer::start(path, controller, {}, limits);
            if (!server.ok()) {
                ::_exit(100);
            }
            code = serve_every_kind_of_client(path);
            if (seccomp_mode_of_thread("skiff-api") != 2) {
                code |= 64;
            }
        } catch (...) {
            code = 101;
        }
        ::_exit(code);
    }
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    CHECK(WEXITSTATUS(status) == 0);  // 6: a forbidden system call
}
