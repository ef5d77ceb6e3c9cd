"""Stop long jobs cleanly on Ctrl-C (SIGINT) and on SIGTERM (what a cluster pre-emption or
`kill` sends): the first signal sets a flag the job checks between steps, so it can save its
state and raise `Interrupted`; a second SIGINT interrupts at once (KeyboardInterrupt).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

SIGNALS = (signal.SIGINT, signal.SIGTERM)


class Interrupted(Exception):  # noqa: N818 (not an error: a requested stop)
    """A job stopped on a signal after saving what it had; `exit_code` is 128 + signal."""

    def __init__(self, message: str, signum: int) -> None:
        super().__init__(message)
        self.signum = signum
        self.hint = ""  # what the caller adds: the command that continues the job

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    @property
    def signal_name(self) -> str:
        return signal.Signals(self.signum).name


class StopFlag:
    """Set by the first SIGINT/SIGTERM while `stop_on_signals` is active."""

    def __init__(self) -> None:
        self.signum: int | None = None

    def __bool__(self) -> bool:
        return self.signum is not None


@contextmanager
def stop_on_signals() -> Iterator[StopFlag]:
    """Catch SIGINT/SIGTERM into a flag for the duration; previous handlers come back after.

    Outside the main thread (where Python cannot install handlers) the flag never sets and
    signals behave as before.
    """
    flag = StopFlag()
    if threading.current_thread() is not threading.main_thread():
        yield flag
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        flag.signum = signum
        # a second Ctrl-C stops at once; a second SIGTERM keeps waiting for the save
        signal.signal(signal.SIGINT, signal.default_int_handler)

    previous = {s: signal.signal(s, handler) for s in SIGNALS}
    try:
        yield flag
    finally:
        for s, old in previous.items():
            signal.signal(s, old)
