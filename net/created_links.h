// Interfaces skiff created and must not leave behind, even when it crashes.
//
// A macvtap (unlike a tap) does not go away when its fd closes: someone has
// to send RTM_DELLINK. Normal exits, start-up failures and SIGTERM/SIGINT
// run destructors (net::Macvtap deletes its interface); for the crash
// signals a process can catch (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT)
// this registry keeps each deletion request ready-built, and a handler
// sends them with nothing but socket(2), send(2) and close(2) - all
// async-signal-safe - then restores the previous disposition and re-raises
// the signal, so the process still dies of it (and dumps core) as before.
//
// Not covered: SIGKILL and power loss (nothing runs), a crash on a stack
// overflow (no alternate signal stack: the handler cannot run).
#pragma once

#include "net/netlink.h"

#include <cstddef>
#include <optional>

namespace skiff::net {

class CreatedLinks {
public:
    // The request must be small (an RTM_DELLINK by index: 32 bytes; at most
    // kMaxMessage). Returns a slot for forget(), or nullopt when the
    // registry is full or the message too big (the interface is then only
    // removed on orderly exits; a warning says so). Installs the crash
    // handler (again, if another one replaced it since). Thread-safe.
    static std::optional<size_t> remember(const NetlinkMessage& delete_request);
    // Drops the request (the interface was deleted the ordinary way).
    static void forget(size_t slot);

    // For tests: sends every remembered request, as the crash handler does.
    static void send_all_for_crash();

    static constexpr size_t kSlots = 32;
    static constexpr size_t kMaxMessage = 128;
};

}  // namespace skiff::net
