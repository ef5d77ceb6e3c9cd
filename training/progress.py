"""Progress of a long job: a tqdm bar on a terminal; elsewhere (a log file, CI, `nohup`,
`--no-progress`) plain log lines, each 10% of the work and at least once a minute, ending in
one for the finished job:

    train 500/2000 (25%) 12.3 it/s, ETA 2m02s, loss 0.0341

A bar that redraws itself is noise in a log file; silence for an hour is worse.
"""

from __future__ import annotations

import sys
import time
from typing import Any, TextIO

from tqdm import tqdm

LINE_FRACTION = 0.1  # a log line each 10% of the work ...
LINE_SECONDS = 60.0  # ... and at least once a minute


class Progress:
    """`update(n, **status)` as work gets done; `close()` (or the with block) at the end."""

    def __init__(
        self,
        desc: str,
        total: int,
        unit: str,
        *,
        initial: int = 0,
        bar: bool = True,
        stream: TextIO | None = None,
    ) -> None:
        self.desc, self.total, self.unit = desc, total, unit
        self.done = initial
        self._start_done = initial
        self._stream = stream if stream is not None else sys.stderr
        self._bar = tqdm(
            total=total,
            initial=initial,
            desc=desc,
            unit=unit,
            disable=None if bar else True,  # None: disabled when not writing to a terminal
            dynamic_ncols=True,
            leave=False,
            file=self._stream,
        )
        self._lines = bool(self._bar.disable)
        self._t0 = self._last_t = time.perf_counter()
        self._last_done = initial
        self._status: dict[str, Any] = {}

    def update(self, n: int = 1, **status: Any) -> None:
        self.done += n
        self._status.update(status)
        self._bar.update(n)
        if status:
            self._bar.set_postfix({k: _fmt(v) for k, v in self._status.items()}, refresh=False)
        if self._lines and self.done < self.total and self._due():
            self._line()

    def close(self) -> None:
        """The final line (when logging lines) and the bar's cleanup; idempotent."""
        if self._lines and self.done != self._last_done:
            self._line()
        self._bar.close()
        self._lines = False

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _due(self) -> bool:
        step = max(1, int(self.total * LINE_FRACTION))
        crossed = self.done // step > self._last_done // step
        return crossed or time.perf_counter() - self._last_t >= LINE_SECONDS

    def _line(self) -> None:
        now = time.perf_counter()
        rate = (self.done - self._start_done) / max(now - self._t0, 1e-9)
        parts = [f"{rate:.1f} {self.unit}/s"]
        if self.done < self.total and rate > 0:
            parts.append(f"ETA {_duration((self.total - self.done) / rate)}")
        parts += [f"{k} {_fmt(v)}" for k, v in self._status.items()]
        percent = 100 * self.done / self.total if self.total else 100.0
        print(
            f"{self.desc} {self.done}/{self.total} ({percent:.0f}%) {', '.join(parts)}",
            file=self._stream,
            flush=True,
        )
        self._last_t, self._last_done = now, self.done


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _duration(seconds: float) -> str:
    hours, rest = divmod(round(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"
