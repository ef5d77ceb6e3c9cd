"""What every camera driver (UVC, tactile, RealSense, simulated) hands up: timestamped frames,
one error type, and the statistics an operator reads when a stream misbehaves.

All times are this host's `time.monotonic()` seconds. `seq` counts the frames the device
produced as far as the driver can tell: a gap between two frames' `seq` is frames dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np


class DeviceError(Exception):
    """A device cannot do what was asked (missing, busy, unplugged, stalled, wrong frames);
    the message names the device, what was expected and what to check."""


class FrameTimeoutError(DeviceError):
    """No new frame arrived within the wait asked for (a slow or stopped stream)."""


@dataclass(frozen=True)
class Frame:
    """One image from a device: (H, W, C) uint8 colour, or (H, W) uint16 depth."""

    image: np.ndarray
    t_capture: float  # when the device exposed it (monotonic s; t_receive if unknown)
    t_receive: float  # when this process had it (monotonic s)
    seq: int  # device frame counter: a gap is dropped frames

    def age_ms(self, now: float) -> float:
        """Milliseconds since capture, at monotonic time `now`."""
        return (now - self.t_capture) * 1000.0


@dataclass(frozen=True)
class StreamStats:
    """A stream's health so far: `fps` over its recent frames, `dropped` frames (gaps in
    seq), `latency_ms` median capture-to-receive of recent frames (0 when the device gives
    no capture time), `stalled_s` seconds since the last frame arrived."""

    frames: int
    dropped: int
    fps: float
    latency_ms: float
    stalled_s: float


class Camera(Protocol):
    """A frame source that a capture thread keeps current. `read_latest` never waits;
    `async_read` waits for a frame newer than the last one it returned."""

    name: str

    def connect(self) -> None: ...

    def async_read(self, timeout_s: float = 1.0) -> Frame: ...

    def read_latest(self, max_age_ms: float) -> Frame: ...

    def stats(self) -> StreamStats: ...

    def close(self) -> None: ...
