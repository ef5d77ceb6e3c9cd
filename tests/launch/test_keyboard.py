"""Episode keys from a real pseudo-terminal (single keys, no Enter) and from a pipe."""

from __future__ import annotations

import io
import os
import time

from launch.keyboard import EpisodeKeys, Key


def wait_key(keys: EpisodeKeys, timeout_s: float = 2.0) -> Key | None:
    end = time.monotonic() + timeout_s
    while time.monotonic() < end:
        if (key := keys.poll()) is not None:
            return key
        time.sleep(0.01)
    return None


def test_single_keys_arrive_from_a_terminal_without_enter() -> None:
    master, slave = os.openpty()
    try:
        with EpisodeKeys(slave) as keys:
            os.write(master, b"s")
            assert wait_key(keys) is Key.STOP
            os.write(master, b"xR\x1b ")  # unknown keys are ignored; case does not matter
            assert [wait_key(keys) for _ in range(3)] == [Key.RERECORD, Key.ABORT, Key.START]
    finally:
        os.close(master)
        os.close(slave)


def test_wait_drops_the_keys_it_was_not_waiting_for() -> None:
    read, write = os.pipe()
    try:
        with EpisodeKeys(read) as keys:
            os.write(write, b"sr\n")
            assert keys.wait(Key.START, Key.ABORT) is Key.START
            assert keys.poll() is None
    finally:
        os.close(read)
        os.close(write)


def test_without_a_terminal_nothing_is_read() -> None:
    assert not EpisodeKeys.from_terminal(io.StringIO("s")).interactive
    read, write = os.pipe()
    try:
        assert not EpisodeKeys.from_terminal(os.fdopen(read, closefd=False)).interactive
    finally:
        os.close(read)
        os.close(write)
