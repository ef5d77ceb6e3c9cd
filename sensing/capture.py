"""A capture worker per device: a thread that moves each new frame of a connected camera into
the stream's ring buffer, and keeps the device's error for whoever asks next.

(Process workers, for streams whose decoding would starve the others, attach to the same
ring buffer from another process: not built yet.)
"""

from __future__ import annotations

import threading

from drivers.base import Camera, DeviceError, FrameTimeoutError, StreamStats
from sensing.ring_buffer import RingBuffer


class CaptureThread:
    """Moves `camera`'s frames into `buffer` until `stop`; the camera is connected and
    closed by its owner. `poll_s`: how long one wait for a frame lasts (the stop latency)."""

    def __init__(self, key: str, camera: Camera, buffer: RingBuffer, poll_s: float = 0.1) -> None:
        self.key, self.camera, self.buffer, self.poll_s = key, camera, buffer, poll_s
        self.error: DeviceError | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"worker-{key}", daemon=True)

    def start(self) -> CaptureThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2 * self.poll_s + 1.0)

    def stats(self) -> StreamStats:
        return self.camera.stats()

    def check(self) -> None:
        """Raise the device's error, if the worker ended on one."""
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                frame = self.camera.async_read(self.poll_s)
            except FrameTimeoutError:  # a slow or stalled stream: the aligner judges staleness
                continue
            except DeviceError as err:
                self.error = err
                return
            self.buffer.put(frame)
