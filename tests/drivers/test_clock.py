"""Absolute deadlines: never early, and not late by more than the spin allows."""

from __future__ import annotations

import time

from drivers.clock import sleep_until


def test_sleep_until_never_wakes_early() -> None:
    for wait in (0.0005, 0.02):  # inside the spin, and a sleep then a spin
        deadline = time.monotonic() + wait
        sleep_until(deadline)
        assert time.monotonic() >= deadline
    sleep_until(time.monotonic() - 1.0)  # a past deadline returns at once
