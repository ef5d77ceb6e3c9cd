"""An operator at a pseudo-terminal, for the tests of commands that read keys: stdin becomes
the terminal's slave side, and a thread types each key after its pause once the command has
put the terminal in single-key mode, as a person would."""

from __future__ import annotations

import os
import sys
import termios
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import pytest


@contextmanager
def operator_typing(
    monkeypatch: pytest.MonkeyPatch, script: list[tuple[float, bytes]]
) -> Iterator[None]:
    """`script`: (seconds to wait, bytes to type), in order."""
    master, slave = os.openpty()
    monkeypatch.setattr(sys, "stdin", os.fdopen(slave, "r", closefd=False))
    done = threading.Event()

    def operator() -> None:
        while termios.tcgetattr(slave)[3] & termios.ICANON and not done.wait(0.01):
            pass
        for pause, key in script:
            if done.wait(pause):
                return
            os.write(master, key)

    typist = threading.Thread(target=operator, daemon=True)
    typist.start()
    try:
        yield
    finally:
        done.set()
        typist.join()
        os.close(master)
        os.close(slave)
