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

#include <string>

namespace skiff::api {

// A file's identity, to remove only our own socket file at the end (not one
// another process put at the same path since).
struct FileIdentity {
    dev_t device = 0;
    ino_t inode = 0;
};

struct UnixListener {
    UniqueFd socket;  // SOCK_STREAM, non-blocking, close-on-exec, listening
    FileIdentity file;
};

// Errors: the path too long for sun_path, a non-socket file there, a socket
// someone listens on, or the bind/listen failure (e.g. a missing directory).
Result<UnixListener> listen_unix(const std::string& path, int backlog);

// Removes `path` if it is still the socket file `file`.
void remove_socket_file(const std::string& path, const FileIdentity& file);

}  // namespace skiff::api
