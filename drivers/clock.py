"""Waiting for absolute deadlines, shared by every fixed-rate loop (recording, arm control,
the real-time loop and the sim twin stepping beside it)."""

from __future__ import annotations

import time

SPIN_S = 0.001  # the last stretch before a deadline is spun, not slept (sleep overshoots)


def next_deadline(deadline: float, period: float) -> tuple[float, int]:
    """The deadline after `deadline`, skipping every one already passed (a loop that fell
    behind never bursts to catch up), and how many it skipped."""
    deadline += period
    behind = time.monotonic() - deadline
    if behind <= 0:
        return deadline, 0
    skipped = int(behind // period) + 1
    return deadline + skipped * period, skipped


def sleep_until(deadline: float) -> None:
    """Wait until monotonic time `deadline`: sleep to 1 ms before it, then spin."""
    left = deadline - time.monotonic()
    if left > SPIN_S:
        time.sleep(left - SPIN_S)
    while time.monotonic() < deadline:
        pass
