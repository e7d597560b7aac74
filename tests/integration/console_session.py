#!/usr/bin/env python3
"""Drives a program's console through a pseudo-terminal, as a user would.

    console_session.py --transcript FILE -- COMMAND [ARG...] <STEPS

COMMAND runs with a pty as its stdin, stdout and stderr (skiff run
--serial stdio: the guest's console). STEPS, one per line:

    expect SECONDS REGEX   wait until REGEX matches output not yet consumed
                           (matching consumes up to the match's end)
    send TEXT              type TEXT and Enter (a carriage return, as a
                           terminal sends it)
    exit SECONDS STATUS    wait for COMMAND to exit with STATUS

Every byte COMMAND writes goes to the transcript. On the first step that
fails, prints what was awaited and the transcript's tail, kills COMMAND and
exits 1. Exit status 0 when every step passed.
"""
import argparse
import os
import pty
import re
import select
import signal
import sys
import time


class Session:
    def __init__(self, command, transcript):
        self.pid, self.fd = pty.fork()
        if self.pid == 0:
            try:
                os.execvp(command[0], command)
            finally:
                os._exit(127)
        self.transcript = open(transcript, "wb")
        self.pending = b""
        self.status = None

    def pump(self, deadline):
        """Reads what is there until the deadline; False at end of output."""
        timeout = max(0.0, deadline - time.monotonic())
        ready, _, _ = select.select([self.fd], [], [], min(timeout, 0.5))
        if not ready:
            return True
        try:
            data = os.read(self.fd, 65536)
        except OSError:  # EIO: every writer of the pty is gone
            return False
        if not data:
            return False
        self.transcript.write(data)
        self.transcript.flush()
        self.pending += data
        return True

    def expect(self, seconds, pattern):
        regex = re.compile(pattern.encode())
        deadline = time.monotonic() + seconds
        while True:
            match = regex.search(self.pending)
            if match:
                self.pending = self.pending[match.end():]
                return None
            if time.monotonic() >= deadline:
                return f"no /{pattern}/ within {seconds} s"
            if not self.pump(deadline):
                return f"the program ended before /{pattern}/"

    def send(self, text):
        os.write(self.fd, text.encode() + b"\r")
        return None

    def wait_exit(self, seconds, expected):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.status = os.waitstatus_to_exitcode(status)
                if self.status != expected:
                    return f"exit status {self.status}, not {expected}"
                return None
            self.pump(min(deadline, time.monotonic() + 0.2))
        return f"still running after {seconds} s"

    def kill(self):
        if self.status is None:
            try:
                os.kill(self.pid, signal.SIGKILL)
                os.waitpid(self.pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass


def run_step(session, line):
    verb, _, rest = line.partition(" ")
    if verb == "expect":
        seconds, _, pattern = rest.partition(" ")
        return session.expect(float(seconds), pattern)
    if verb == "send":
        return session.send(rest)
    if verb == "exit":
        seconds, _, status = rest.partition(" ")
        return session.wait_exit(float(seconds), int(status))
    return f"unknown step '{verb}'"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--transcript", required=True)
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    session = Session(args.command, args.transcript)
    started = time.monotonic()
    for line in sys.stdin.read().splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        problem = run_step(session, line)
        elapsed = time.monotonic() - started
        if problem:
            print(f"console: {elapsed:6.1f} s  FAILED at '{line}': {problem}", file=sys.stderr)
            session.transcript.close()
            with open(args.transcript, "rb") as transcript:
                tail = transcript.read()[-3000:].decode(errors="replace")
            for text in tail.splitlines():
                print(f"  console| {text}", file=sys.stderr)
            session.kill()
            return 1
        print(f"console: {elapsed:6.1f} s  {line}")
    session.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
