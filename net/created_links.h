// Interfaces skiff created and must not leave behind, even when it crashes
// (and other link changes it must undo the same way: a VF's MAC it set,
// devices/vfio/sysfs_binding.h, whose request restores the old one).
//
// A macvtap (unlike a tap) does not go away when its fd closes: someone has
// to send RTM_DELLINK. Normal exits, start-up failures and SIGTERM/SIGINT
// run destructors (net::Macvtap deletes its interface); for the crash
// signals a process can catch (SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGABRT)
// this registry keeps each deletion request ready-built, and a handler
// sends them with nothing but send(2) - async-signal-safe - then restores
// the previous disposition and re-raises the signal, so the process still
// dies of it (and dumps core) as before.
//
// The crash socket: the first remember() opens one NETLINK_ROUTE socket
// (SOCK_CLOEXEC), and it stays open until the process ends - one fd, only
// in a process that created a macvtap or set a VF's MAC. The handler sends on it instead of
// opening a socket of its own, because the crash may happen on a thread
// whose seccomp filter refuses socket(): the vCPU threads, where device
// emulation runs (vmm/seccomp.cpp lets every kind sendto this fd, and
// builds the filters after Machine::build, so after the socket exists).
// Nobody reads it: the kernel's acks pile up in its receive queue, but only
// the crash handler (once: the process dies) and send_all_for_crash()
// (tests) send on it, at most kSlots requests a call; and with the queue
// full the kernel would drop an ack, not carry out the request any less.
// A socket belongs to the network namespace it was opened in: when
// remember() is called from another one (tests that unshare; a library user
// moving threads) and no request is armed on the socket, the socket is
// replaced in place (same fd number) by one opened there; if requests for
// the old namespace are still armed, the new request is marked to go on a
// socket the handler opens itself, as it is when the crash socket cannot
// be opened at all (a warning at remember() time says so; on a filtered
// vCPU or API thread that socket() is then refused and the interface left
// behind).
//
// Capabilities: RTM_DELLINK needs CAP_NET_ADMIN from both the socket's
// opener (the thread that built the VM, before any --uid drop) and the
// thread that sends (netlink checks the sender at send time). After --uid
// only the thread that dropped privileges and the threads it started
// afterwards keep CAP_NET_ADMIN (vmm/privileges.h): the run thread (its
// event loop), the vCPU threads and the metrics thread, and the thread that
// started the VM (the main thread in `run` mode or with a config file; in
// API mode with InstanceStart, the API thread, which handled it). A crash
// on a thread that existed before the start and lost every capability (the
// API thread when a config file started the VM; the main thread in API
// mode with InstanceStart) sends the requests, the kernel refuses them
// (EPERM), and the macvtap is left behind.
//
// Not covered: SIGKILL and power loss (nothing runs; the next skiff that
// creates a macvtap removes the abandoned ones, net/macvtap.h), a crash on a stack
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
    // removed on orderly exits; a warning says so). Opens the crash socket
    // the first time (see above) and installs the crash handler (again, if
    // another one replaced it since). Thread-safe.
    static std::optional<size_t> remember(const NetlinkMessage& delete_request);
    // Drops the request (the interface was deleted the ordinary way).
    static void forget(size_t slot);

    // The crash socket's fd, or -1 when there is none (no remember() yet,
    // or it could not be opened). Once >= 0 it never changes.
    [[nodiscard]] static int crash_socket();

    // For tests: sends every remembered request, as the crash handler does.
    // Returns how many send() took whole (the kernel then carried each out
    // or answered an error into the socket's queue).
    static size_t send_all_for_crash();

    static constexpr size_t kSlots = 32;
    static constexpr size_t kMaxMessage = 128;
};

}  // namespace skiff::net
