// testguest.mode=tick: a counter that shows whether the guest runs. Prints
// "skiff-testguest: tick N" (N = 0, 1, ...) after every few milliseconds of
// busy work, forever, and honours Ctrl-Alt-Del (keyboard.h) between lines.
// A paused VM prints nothing; after it resumes the count goes on where it
// stopped (no catching up on the time it missed).
#pragma once

__attribute__((noreturn)) void tick_run(void);
