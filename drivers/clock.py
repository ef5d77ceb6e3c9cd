"""Waiting for absolute deadlines, shared by every fixed-rate loop (recording, arm control)."""

from __future__ import annotations

import time

SPIN_S = 0.001  # the last stretch before a deadline is spun, not slept (sleep overshoots)


def sleep_until(deadline: float) -> None:
    """Wait until monotonic time `deadline`: sleep to 1 ms before it, then spin."""
    left = deadline - time.monotonic()
    if left > SPIN_S:
        time.sleep(left - SPIN_S)
    while time.monotonic() < deadline:
        pass
