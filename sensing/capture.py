"""A capture worker per device moves each new frame of a camera into the stream's ring buffer
and keeps the device's error for whoever asks next (`check`).

- `CaptureThread`: a thread beside the caller, for a camera the caller connected.
- `CaptureProcess`: a process of its own that builds, connects and closes the camera from a
  picklable factory, for a stream whose decoding would starve the others of the GIL (a
  GelSight Mini's 8 MP MJPG frames); it writes into the same shared-memory ring buffer.

A stream's health (`stream_stats`) is read off its ring buffer, so both kinds report alike.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import queue
import threading
import time
from collections.abc import Callable
from multiprocessing.synchronize import Event

import numpy as np

from drivers.base import Camera, DeviceError, FrameTimeoutError, StreamStats
from sensing.ring_buffer import RingBuffer, RingSpec


def stream_stats(buffer: RingBuffer) -> StreamStats:
    """Frames received, frames lost (gaps in seq: the first frame is seq 0), fps and median
    capture-to-receive latency over the kept frames, seconds since the newest arrived."""
    kept, count = buffer.snapshot(buffer.spec.capacity)  # count: frames up to kept[-1]
    if not kept:
        return StreamStats(0, 0, 0.0, 0.0, 0.0)
    span = kept[-1].t_capture - kept[0].t_capture
    fps = (len(kept) - 1) / span if span > 0 else 0.0
    latency = float(np.median([(f.t_receive - f.t_capture) * 1000.0 for f in kept]))
    dropped = kept[-1].seq + 1 - count
    return StreamStats(count, dropped, fps, latency, time.monotonic() - kept[-1].t_receive)


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
        return stream_stats(self.buffer)

    def check(self) -> None:
        """Raise the device's error, if the worker ended on one."""
        if self.error is not None:
            raise self.error

    def _run(self) -> None:
        try:
            _pump(self.camera, self.buffer, self._stop, self.poll_s)
        except DeviceError as err:
            self.error = err


class CaptureProcess:
    """Builds the camera with `factory()` in a spawned process (connects and closes it
    there) and moves its frames into `buffer`; a device error comes back through `check`."""

    def __init__(
        self, key: str, factory: Callable[[], Camera], buffer: RingBuffer, poll_s: float = 0.1
    ) -> None:
        self.key, self.buffer, self.poll_s = key, buffer, poll_s
        context = mp.get_context("spawn")  # no fork of a process holding threads or a GL context
        self._stop = context.Event()
        self._errors: mp.Queue[str] = context.Queue()
        self._process = context.Process(
            target=_process_main,
            args=(factory, buffer.spec, self._stop, self._errors, poll_s),
            name=f"worker-{key}",
            daemon=True,
        )
        self.error: DeviceError | None = None

    def start(self) -> CaptureProcess:
        self._process.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._process.join(timeout=2 * self.poll_s + 3.0)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join()
        self._collect()

    @property
    def pid(self) -> int:
        """The capture process's id (after `start`)."""
        if self._process.pid is None:
            raise RuntimeError(f"{self.key}: the capture process has not started")
        return self._process.pid

    def stats(self) -> StreamStats:
        return stream_stats(self.buffer)

    def check(self) -> None:
        """Raise the device's error, if the worker ended on one (or ended at all)."""
        self._collect()
        if self.error is None and not self._process.is_alive() and not self._stop.is_set():
            code = self._process.exitcode
            if code is not None:
                self.error = DeviceError(f"{self.key}: its capture process ended (exit {code})")
        if self.error is not None:
            raise self.error

    def _collect(self) -> None:
        with contextlib.suppress(queue.Empty):
            self.error = DeviceError(self._errors.get_nowait())


def _process_main(
    factory: Callable[[], Camera], spec: RingSpec, stop: Event, errors: mp.Queue[str], poll_s: float
) -> None:
    buffer = RingBuffer.attach(spec)
    camera = factory()
    try:
        camera.connect()
        _pump(camera, buffer, stop, poll_s)
    except DeviceError as err:
        errors.put(str(err))
    finally:
        camera.close()
        buffer.close()


def _pump(camera: Camera, buffer: RingBuffer, stop: threading.Event | Event, poll_s: float) -> None:
    while not stop.is_set():
        try:
            frame = camera.async_read(poll_s)
        except FrameTimeoutError:  # a slow or stalled stream: the aligner judges staleness
            continue
        buffer.put(frame)
