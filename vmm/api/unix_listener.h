// The API's listening unix socket: created, bound and listening before it
// is handed to the HTTP server.
//
// Firecracker refuses a --api-sock path that exists. skiff does the same,
// except for a stale socket - a socket file nobody listens on any more, left
// by a process that was killed - which it removes and reuses, so a restarted
// VMM does not need its caller to clean up first.
#pragma once

#include "vmm/result.h"
#include "vmm/unique_fd.h"

#include <sys/types.h>

#include <optional>
#include <string>

namespace skiff::api {

// A file's identity, to remove only our own socket file at the end (not one
// another process put at the same path since).
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
};

// The socket file: its directory (O_PATH, opened before any chroot) and
// its name there, and which file it is.
struct SocketFile {
    std::string path;  // as given, for messages
    UniqueFd directory;
    std::string name;
    FileIdentity identity;
};

// Who the socket file should belong to (skiff's --uid/--gid).
struct SocketOwner {
    uid_t uid = 0;
    gid_t gid = 0;
};

struct UnixListener {
    UniqueFd socket;  // SOCK_STREAM, non-blocking, close-on-exec, listening
    SocketFile file;
};

// Errors: the path too long for sun_path, a non-socket file there, a socket
// someone listens on, the bind/listen failure (e.g. a missing directory),
// or the chown to `owner`.
Result<UnixListener> listen_unix(const std::string& path, int backlog, std::optional<SocketOwner> owner = {});

// Removes the socket file if it is still the one bound; warns (naming the
// fix) when that is not allowed.
void remove_socket_file(const SocketFile& file);

}  // namespace skiff::api
