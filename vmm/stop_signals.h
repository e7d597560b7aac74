// The signals that end skiff in an orderly way: SIGINT, SIGTERM, SIGHUP (a
// terminal closing on `skiff run` is an ordinary event) and SIGQUIT. They
// are blocked on every thread from the first line of main(), so none takes
// its default action and skips the clean-up (macvtaps skiff created, the
// API socket file); the event loop reads them from a signalfd, the API
// mode's main thread with sigtimedwait(), and long start-up work (reading a
// large image) polls for them between steps.
//
// A stop signal the caller left ignored (nohup's SIGHUP) stays ignored.
// SIGPIPE, SIGUSR1 and SIGUSR2 are ignored: a closed stderr reader or a
// stray signal must not end skiff with its clean-up skipped.
#pragma once

#include <signal.h>

namespace skiff::stop_signals {

// Blocks the stop signals on the calling thread (threads created later
// inherit the mask) and ignores the others. Call first in main().
void block();

// The stop signals block() blocked, for a signalfd or sigtimedwait().
[[nodiscard]] const sigset_t& set();

// Takes a pending stop signal without waiting; returns it (and remembers
// it) or 0.
int take_pending();

// Remembers a stop signal taken elsewhere (signalfd, sigtimedwait).
void note(int signal_number);

// The first stop signal taken, or 0.
[[nodiscard]] int received();

}  // namespace skiff::stop_signals
