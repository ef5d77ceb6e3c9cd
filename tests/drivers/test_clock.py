"""Absolute deadlines: never early, and not late by more than the spin allows."""

from __future__ import annotations

import time

import pytest

from drivers.clock import next_deadline, sleep_until


def test_sleep_until_never_wakes_early() -> None:
    for wait in (0.0005, 0.02):  # inside the spin, and a sleep then a spin
        deadline = time.monotonic() + wait
        sleep_until(deadline)
        assert time.monotonic() >= deadline
    sleep_until(time.monotonic() - 1.0)  # a past deadline returns at once


def test_next_deadline_skips_what_has_passed_on_the_grid() -> None:
    now = time.monotonic()
    assert next_deadline(now + 1.0, 0.1) == (pytest.approx(now + 1.1), 0)  # ahead: one period
    deadline, skipped = next_deadline(now - 0.35, 0.1)  # 3.5 periods behind
    assert skipped == 3 and deadline == pytest.approx(now + 0.05)
    assert deadline > time.monotonic() - 1e-3  # never in the past again
