#include "vmm/api/unix_listener.h"

#include <spdlog/spdlog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <fcntl.h>
#include <unistd.h>

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

Result<UnixListener> listen_unix(const std::string& path, int backlog, std::optional<SocketOwner> owner) {
    sockaddr_un address = TRY(socket_address(path));
    TRY(clear_stale_socket(path, address));
    UnixListener listener;
    listener.file.path = path;
    size_t slash = path.rfind('/');
    std::string directory = slash == std::string::npos ? "." : slash == 0 ? "/" : path.substr(0, slash);
    listener.file.name = slash == std::string::npos ? path : path.substr(slash + 1);

    listener.socket.reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!listener.socket.valid()) {
        return errno_error("creating the API socket");
    }
    if (::bind(listener.socket.get(), reinterpret_cast<const sockaddr*>(&address), sizeof(address)) != 0) {
        return errno_error(fmt::format("binding the API socket to {}", path));
    }
    listener.file.directory.reset(::open(directory.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!listener.file.directory.valid()) {
        int saved = errno;
        ::unlink(path.c_str());
        return errno_error(fmt::format("binding the API socket to {}: opening its directory {}", path, directory),
                           saved);
    }
    struct stat status {};
    if (::fstatat(listener.file.directory.get(), listener.file.name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0) {
        listener.file.identity = FileIdentity{status.st_dev, status.st_ino};
    }
    if (owner && ::fchownat(listener.file.directory.get(), listener.file.name.c_str(), owner->uid, owner->gid,
                            AT_SYMLINK_NOFOLLOW) != 0) {
        int saved = errno;
        remove_socket_file(listener.file);
        return errno_error(fmt::format("giving the API socket {} to uid {} gid {} (--uid/--gid): run skiff as root",
                                       path, owner->uid, owner->gid),
                           saved);
    }
    if (::listen(listener.socket.get(), backlog) != 0) {
        int saved = errno;
        remove_socket_file(listener.file);
        return errno_error(fmt::format("listening on the API socket {}", path), saved);
    }
    return listener;
}

void remove_socket_file(const SocketFile& file) {
    if (!file.directory.valid()) {
        return;
    }
    struct stat status {};
    if (::fstatat(file.directory.get(), file.name.c_str(), &status, AT_SYMLINK_NOFOLLOW) == 0 &&
        S_ISSOCK(status.st_mode) && status.st_dev == file.identity.device && status.st_ino == file.identity.inode &&
        ::unlinkat(file.directory.get(), file.name.c_str(), 0) != 0 && errno != ENOENT) {
        spdlog::warn("removing the API socket {}: {}: remove it by hand (after --uid, skiff's user needs write "
                     "access to its directory, or put the socket in a sticky directory such as /tmp)",
                     file.path, std::strerror(errno));
    }
}

}  // namespace skiff::api
