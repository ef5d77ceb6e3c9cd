"""Episode control from the keyboard for `vitac run`: single keys, read without Enter from the
operator's terminal by a thread, turned into events the loop polls once per tick.

    Enter / space   start the next episode (when waiting)
    s               stop the episode and keep it
    r               re-record: drop the episode in progress and run the same seed again
    q / Esc         abort: hold the arm, keep the episode so far, end the run

Without a terminal (a pipe, a test, CI) nothing is read and episodes run back to back.
"""

from __future__ import annotations

import contextlib
import os
import queue
import select
import sys
import termios
import threading
import tty
from collections.abc import Iterator
from enum import StrEnum
from typing import IO


class Key(StrEnum):
    START = "start"
    STOP = "stop"
    RERECORD = "re-record"
    ABORT = "abort"


KEYS = {"\r": Key.START, "\n": Key.START, " ": Key.START, "s": Key.STOP, "r": Key.RERECORD,
        "q": Key.ABORT, "\x1b": Key.ABORT}  # fmt: skip
HELP = "keys: Enter start, s stop (keep), r re-record, q abort"


class EpisodeKeys:
    """Reads keys from `fd` (a terminal's, or a pipe's in tests) while open; characters in
    `passthrough` (teleoperation's) are queued for `poll_char` instead."""

    def __init__(self, fd: int | None, passthrough: str = "") -> None:
        self.fd, self.passthrough = fd, passthrough
        self.events: queue.Queue[Key] = queue.Queue()
        self.chars: queue.Queue[str] = queue.Queue()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @classmethod
    def from_terminal(cls, stream: IO[str] | None = None, passthrough: str = "") -> EpisodeKeys:
        """Keys from `stream` (default: stdin) when it is a terminal; none otherwise."""
        try:
            fd = (stream or sys.stdin).fileno()
        except (AttributeError, OSError, ValueError):
            return cls(None, passthrough)
        return cls(fd if os.isatty(fd) else None, passthrough)

    @property
    def interactive(self) -> bool:
        return self.fd is not None

    def __enter__(self) -> EpisodeKeys:
        if self.fd is not None:
            self._mode = _cbreak(self.fd)  # before any key is pressed: none waits for Enter
            self._mode.__enter__()
            self._thread = threading.Thread(target=self._read, name="keys", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=1.0)
            self._mode.__exit__(None, None, None)

    def poll(self) -> Key | None:
        """The oldest key pressed since the last poll, or None."""
        try:
            return self.events.get_nowait()
        except queue.Empty:
            return None

    def poll_char(self) -> str | None:
        """The oldest `passthrough` character typed since the last call, or None."""
        try:
            return self.chars.get_nowait()
        except queue.Empty:
            return None

    def wait(self, *wanted: Key) -> Key:
        """Block until one of `wanted` is pressed (others are dropped)."""
        while True:
            key = self.events.get()
            if key in wanted:
                return key

    def _read(self) -> None:
        assert self.fd is not None
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            data = os.read(self.fd, 32).decode(errors="ignore")
            if not data:  # the terminal (or pipe) closed: nobody can press a key now
                self.events.put(Key.ABORT)
                return
            for char in data.lower():
                if char in self.passthrough:
                    self.chars.put(char)
                elif (key := KEYS.get(char)) is not None:
                    self.events.put(key)


@contextlib.contextmanager
def _cbreak(fd: int) -> Iterator[None]:
    """Keys arrive one at a time, unechoed, on a terminal (a pipe is left as it is)."""
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        tty.setcbreak(fd, termios.TCSANOW)  # keys typed ahead are kept, not flushed
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)
