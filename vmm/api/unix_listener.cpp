#include "vmm/api/unix_listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace skiff::api {

namespace {

Result<sockaddr_un> socket_address(const std::string& path) {
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    if (path.empty() || path.size() >= sizeof(address.sun_path)) {
        return Error::format("--api-sock '{}' is {} characters long: a unix socket path takes 1 to {}", path,
                             path.size(), sizeof(address.sun_path) - 1);
    }
    std::memcpy(address.sun_path, path.data(), path.size());
    return address;
}

// Removes a stale socket file at `path`; error if something else is there.
Result<void> clear_stale_socket(const std::string& path, const sockaddr_un& address) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) != 0) {
        if (errno == ENOENT) {
            return {};
        }
        return errno_error(fmt::format("--api-sock {}", path));
    }
    if (!S_ISSOCK(status.st_mode)) {
        return Error::format("--api-sock {} exists and is not a socket: remove it or pick another --api-sock", path);
    }
    UniqueFd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!probe.valid()) {
        return errno_error("creating a unix socket");
    }
    if (::connect(probe.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) == 0) {
        return Error::format("--api-sock {} exists and a process listens on it (another VMM?): stop it, or pick "
                             "another --api-sock",
                             path);
    }
    if (errno != ECONNREFUSED) {
        return errno_error(fmt::format("--api-sock {} exists; checking whether it is in use", path));
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
        return errno_error(fmt::format("removing the stale socket {}", path));
    }
    spdlog::info("removed the stale API socket {} (nobody listened on it)", path);
    return {};
}

}  // namespace

Result<UnixListener> listen_unix(const std::string& path, int backlog) {
    sockaddr_un address = TRY(socket_address(path));
    TRY(clear_stale_socket(path, address));
    UnixListener listener;
    listener.socket.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listener.socket.valid()) {
        return errno_error("creating the API socket");
    }
    if (::bind(listener.socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        return errno_error(fmt::format("binding the API socket to {}", path));
    }
    struct stat status {};
    if (::lstat(path.c_str(), &status) == 0) {
        listener.file = FileIdentity{status.st_dev, status.st_ino};
    }
    if (::listen(listener.socket.get(), backlog) != 0) {
        int saved = errno;
        remove_socket_file(path, listener.file);
        return errno_error(fmt::format("listening on the API socket {}", path), saved);
    }
    return listener;
}

void remove_socket_file(const std::string& path, const FileIdentity& file) {
    struct stat status {};
    if (::lstat(path.c_str(), &status) == 0 && S_ISSOCK(status.st_mode) && status.st_dev == file.device &&
        status.st_ino == file.inode) {
        ::unlink(path.c_str());
    }
}

}  // namespace skiff::api
