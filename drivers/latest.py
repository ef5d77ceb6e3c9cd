"""The newest frame of a capture thread, shared with the threads that read it.

A camera's capture thread publishes every frame it takes; readers either wait for the next
frame newer than the one they had (`next`, each frame handed out once) or take whatever is
newest now (`newest`, refused when older than an age limit: a stale frame is worse than none
to a policy). The thread may instead fail (every reader then gets its error) or end (a
recording played to its last frame). Rate, latency and stall statistics are kept over the
last `recent` frames.

`cond` guards every field; it is re-entrant, so a capture thread may hold it across a
`publish` (a playback waiting for its reader before it hands out the next frame does).
"""

from __future__ import annotations

import statistics
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar

from drivers.base import DeviceError, FrameTimeoutError, StreamStats

RECENT = 60  # frames the rate and latency statistics are taken over


class Stamped(Protocol):
    @property
    def seq(self) -> int: ...  # the device's frame counter: gaps are dropped frames

    @property
    def t_capture(self) -> float: ...  # monotonic s the device exposed it

    @property
    def t_receive(self) -> float: ...  # monotonic s this process had it

    def age_ms(self, now: float) -> float: ...  # ms since capture at monotonic `now`


F = TypeVar("F", bound=Stamped)


class LatestFrame(Generic[F]):
    def __init__(self, name: str, recent: int = RECENT) -> None:
        self.name = name
        self.cond = threading.Condition(threading.RLock())
        self.latest: F | None = None
        self.returned = -1  # seq of the frame `next` last handed out
        self.error: DeviceError | None = None
        self.ended = False
        self.frames = self.dropped = 0
        self._recent: deque[tuple[float, float]] = deque(maxlen=recent)  # (t_capture, t_receive)

    # the capture thread's side

    def publish(self, frame: F, missing: int) -> None:
        """Keep `frame` as the newest; `missing`: frames the device dropped before it."""
        with self.cond:
            self.latest = frame
            self.frames += 1
            self.dropped += missing
            self._recent.append((frame.t_capture, frame.t_receive))
            self.cond.notify_all()

    def fail(self, message: str) -> None:
        with self.cond:
            self.error = DeviceError(message)
            self.cond.notify_all()

    def end(self) -> None:
        """No frame will follow (a recording's last was published)."""
        with self.cond:
            self.ended = True
            self.cond.notify_all()

    def wake(self) -> None:
        """Wake every waiting reader and thread (to see a stop)."""
        with self.cond:
            self.cond.notify_all()

    def unread(self) -> bool:
        return self.latest is not None and self.latest.seq > self.returned

    # the readers' side

    def first(self, timeout_s: float, timed_out: Callable[[], Exception]) -> None:
        """Wait up to `timeout_s` for the first frame, handing nothing out; the thread's error,
        or `timed_out()` when no frame came (in time, or before the end)."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while self.latest is None and self.error is None and not self.ended:
                if not self.cond.wait(max(0.0, deadline - time.monotonic())):
                    break
            if self.error is not None:
                raise self.error
            if self.latest is None:
                raise timed_out()

    def next(
        self, timeout_s: float, stopped: Callable[[], bool], timed_out: Callable[[], Exception]
    ) -> F:
        """The next frame newer than the one this handed out last, waiting up to `timeout_s`;
        `timed_out()` is raised when none comes in time, the stream stopped or it ended."""
        deadline = time.monotonic() + timeout_s
        with self.cond:
            while self.error is None and not self.unread():
                left = deadline - time.monotonic()
                if left <= 0 or stopped() or self.ended:
                    raise timed_out()
                self.cond.wait(left)
            if self.error is not None:
                raise self.error
            assert self.latest is not None
            self.returned = self.latest.seq
            self.cond.notify_all()  # a playback hands out its next frame
            return self.latest

    def newest(self, max_age_ms: float) -> F:
        """The newest frame now, without waiting; a DeviceError if it is older than
        `max_age_ms`."""
        with self.cond:
            if self.error is not None:
                raise self.error
            frame = self.latest
        if frame is None:
            raise DeviceError(f"{self.name}: no frame yet (connect first)")
        age = frame.age_ms(time.monotonic())
        if age > max_age_ms:
            raise DeviceError(
                f"{self.name}: the newest frame is {age:.0f} ms old, over the "
                f"{max_age_ms:.0f} ms allowed ({self.since_last()})"
            )
        return frame

    def no_new_frame(self, timeout_s: float, hint: str = "") -> FrameTimeoutError:
        return FrameTimeoutError(
            f"{self.name}: no new frame in {timeout_s:.2f} s ({self.since_last()}{hint})"
        )

    def since_last(self) -> str:
        if self.latest is None:
            return "no frame received yet"
        return f"the last arrived {time.monotonic() - self.latest.t_receive:.2f} s ago"

    def stats(self) -> StreamStats:
        with self.cond:
            recent = list(self._recent)
            frames, dropped = self.frames, self.dropped
        fps = 0.0
        if len(recent) > 1 and recent[-1][0] > recent[0][0]:
            fps = (len(recent) - 1) / (recent[-1][0] - recent[0][0])
        latency = statistics.median((r - c) * 1000.0 for c, r in recent) if recent else 0.0
        stalled = time.monotonic() - recent[-1][1] if recent else 0.0
        return StreamStats(frames, dropped, fps, latency, stalled)
