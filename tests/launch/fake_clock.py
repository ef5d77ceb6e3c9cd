"""A clock the test moves: benchmarks read it instead of `time.perf_counter`, so their
arithmetic (what is timed, what is counted, best-of-N) is checked exactly, with no timing."""

from __future__ import annotations

from types import SimpleNamespace


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def perf_counter(self) -> float:
        return self.now

    def as_time_module(self) -> SimpleNamespace:
        """Stands in for a benchmark module's `time`."""
        return SimpleNamespace(perf_counter=self.perf_counter, time=lambda: 0.0)
