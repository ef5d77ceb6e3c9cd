"""LatestFrame between a publishing thread and its readers: each frame handed out once, the
thread's error and end reach every reader, stale frames are refused, statistics count gaps."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from drivers.base import DeviceError, Frame, FrameTimeoutError
from drivers.latest import LatestFrame


def frame(seq: int, age_s: float = 0.0) -> Frame:
    now = time.monotonic()
    return Frame(np.zeros((2, 2), np.uint8), now - age_s, now, seq)


def timed_out() -> FrameTimeoutError:
    return FrameTimeoutError("none came")


def never() -> bool:
    return False


def test_a_waiting_reader_gets_each_frame_once_then_times_out() -> None:
    stream: LatestFrame[Frame] = LatestFrame("cam")
    publisher = threading.Timer(0.05, lambda: stream.publish(frame(0), 0))
    publisher.start()
    stream.first(2.0, timed_out)  # waits for frame 0 and hands nothing out
    assert stream.next(0.0, never, timed_out).seq == 0
    with pytest.raises(FrameTimeoutError, match="none came"):
        stream.next(0.02, never, timed_out)  # frame 0 was handed out already
    stream.publish(frame(3), 2)
    assert stream.next(0.0, never, timed_out).seq == 3
    stats = stream.stats()
    assert (stats.frames, stats.dropped) == (2, 2)


def test_the_threads_error_and_end_reach_every_reader() -> None:
    stream: LatestFrame[Frame] = LatestFrame("cam")
    with pytest.raises(FrameTimeoutError):
        stream.first(0.02, timed_out)
    stream.publish(frame(0), 0)
    stream.end()
    stream.next(0.0, never, timed_out)
    started = time.monotonic()
    with pytest.raises(FrameTimeoutError):  # ended: no wait for a frame that cannot come
        stream.next(5.0, never, timed_out)
    assert time.monotonic() - started < 1.0
    stream.fail("cam: unplugged")
    for read in (lambda: stream.next(0.0, never, timed_out), lambda: stream.newest(1e9),
                 lambda: stream.first(0.0, timed_out)):  # fmt: skip
        with pytest.raises(DeviceError, match="unplugged"):
            read()


def test_a_stop_ends_the_wait_at_once() -> None:
    stream: LatestFrame[Frame] = LatestFrame("cam")
    stop = threading.Event()

    def halt() -> None:
        stop.set()
        stream.wake()

    threading.Timer(0.05, halt).start()
    started = time.monotonic()
    with pytest.raises(FrameTimeoutError):
        stream.next(5.0, stop.is_set, timed_out)
    assert time.monotonic() - started < 1.0


def test_newest_refuses_a_stale_frame_and_names_its_age() -> None:
    stream: LatestFrame[Frame] = LatestFrame("cam")
    with pytest.raises(DeviceError, match="no frame yet"):
        stream.newest(100.0)
    stream.publish(frame(0, age_s=0.5), 0)
    with pytest.raises(DeviceError, match=r"cam: the newest frame is 5\d\d ms old, over the 100"):
        stream.newest(100.0)
    assert stream.newest(5000.0).seq == 0
    assert stream.returned == -1  # newest hands nothing out: next still returns it
    assert stream.next(0.0, never, timed_out).seq == 0


def test_statistics_over_the_recent_frames() -> None:
    stream: LatestFrame[Frame] = LatestFrame("cam", recent=5)
    for i in range(10):  # captured every 20 ms, received 4 ms later
        f = Frame(np.zeros(1), 10.0 + 0.02 * i, 10.004 + 0.02 * i, i)
        stream.publish(f, 0)
    stats = stream.stats()
    assert stats.frames == 10 and stats.fps == pytest.approx(50.0)
    assert stats.latency_ms == pytest.approx(4.0)
    assert "no new frame in 0.50 s (the last arrived" in str(stream.no_new_frame(0.5))
