"""A device whose frames are pushed to it: `PushedStream` takes each value with the instant it
was sensed and delivers it through the drivers' `Camera` interface, as a device with a rate,
a latency and jitter would. The sim twin's sensors (sim/rig.py) and a real arm's joint
readings (its control loop's, launch/real_rig.py) are such devices, so the capture threads,
ring buffers and aligner above them cannot tell them from a camera.

It exposes a pushed value at most at `rate_hz` (on the grid of the first exposure) and
delivers it `latency_s` plus uniform jitter in [0, `jitter_s`) later, in order; a value
relayed from a real device keeps that device's receive time and frame number. `stop()` is
the fault of a device that stops: nothing more arrives, frames in flight are lost too;
`fail(error)` is a device that failed: its reader gets the error.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from drivers.base import DeviceError, Frame, FrameTimeoutError, StreamStats


@dataclass(frozen=True)
class StreamModel:
    rate_hz: float | None = None  # None: every sim step
    latency_s: float = 0.0  # exposure -> delivery
    jitter_s: float = 0.0  # extra delivery delay, uniform in [0, jitter_s)


class PushedStream:
    """See the module docstring. Thread-safe: one thread pushes, a capture worker reads."""

    def __init__(self, name: str, model: StreamModel, seed: int = 0) -> None:
        self.name, self.model = name, model
        self._rng = np.random.default_rng(seed)
        self._cond = threading.Condition()
        self._pending: deque[Frame] = deque()  # exposed, not yet delivered; in order
        self._latest: Frame | None = None  # the newest delivered
        self._next_exposure = -np.inf
        self._seq = self._delivered = 0
        self.stopped = False
        self.error: DeviceError | None = None

    def expose(
        self, value: np.ndarray, t: float, t_receive: float | None = None, seq: int | None = None
    ) -> None:
        """`value` is what the device senses at monotonic time `t`; a relayed frame gives
        when it was received and its frame number counted from 0 (gaps: frames lost)."""
        with self._cond:
            period = 1.0 / self.model.rate_hz if self.model.rate_hz else 0.0
            if self.stopped or t < self._next_exposure - 0.01 * period:
                return
            # the next exposure one period on, on the grid of the first (or of this one,
            # when the sim fell more than a period behind)
            self._next_exposure += period
            if self._next_exposure <= t:
                self._next_exposure = t + period
            jitter = self._rng.uniform(0.0, self.model.jitter_s) if self.model.jitter_s else 0.0
            due = t + self.model.latency_s + jitter if t_receive is None else t_receive
            if self._pending:  # delivered in order
                due = max(due, self._pending[-1].t_receive)
            self._seq = self._seq if seq is None else seq
            self._pending.append(Frame(np.array(value), t, due, self._seq))
            self._seq += 1
            self._cond.notify_all()

    def fail(self, error: DeviceError) -> None:
        """The device failed: every read from now on raises `error`."""
        with self._cond:
            self.error = error
            self._cond.notify_all()

    def stop(self) -> None:
        """The fault: the device stops delivering (frames in flight are lost too)."""
        with self._cond:
            self.stopped = True
            self._pending.clear()

    def restart(self) -> None:
        """Undo `stop` (a new episode starts with every device running)."""
        with self._cond:
            self.stopped = False
            self.error = None

    # --- drivers.base.Camera ----------------------------------------------------------------

    def connect(self) -> None:
        """Nothing to open: whoever pushes feeds the stream."""

    def async_read(self, timeout_s: float = 1.0) -> Frame:
        end = time.monotonic() + timeout_s
        with self._cond:
            while True:
                now = time.monotonic()
                if self._pending and self._pending[0].t_receive <= now:
                    frame = self._pending.popleft()
                    self._latest, self._delivered = frame, self._delivered + 1
                    return frame
                if self.error is not None:
                    raise self.error
                if now >= end:
                    raise FrameTimeoutError(f"{self.name}: no frame within {timeout_s:.2f} s")
                wake = self._pending[0].t_receive if self._pending else end
                self._cond.wait(max(0.0, min(wake, end) - now))

    def read_latest(self, max_age_ms: float) -> Frame:
        with self._cond:
            frame = self._latest
        if frame is None or frame.age_ms(time.monotonic()) > max_age_ms:
            raise DeviceError(f"{self.name}: no frame newer than {max_age_ms:.0f} ms")
        return frame

    def stats(self) -> StreamStats:
        with self._cond:
            latest, delivered = self._latest, self._delivered
        if latest is None:
            return StreamStats(0, 0, 0.0, 0.0, 0.0)
        latency = (latest.t_receive - latest.t_capture) * 1000.0
        stalled = time.monotonic() - latest.t_receive
        return StreamStats(delivered, latest.seq + 1 - delivered, 0.0, latency, stalled)

    def close(self) -> None:
        self.stop()
