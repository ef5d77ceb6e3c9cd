"""A pushed device delivers at its rate, latency and jitter, in order; a stopped one delivers
nothing."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.base import DeviceError, FrameTimeoutError
from drivers.pushed import PushedStream, StreamModel


def test_a_frame_arrives_after_its_latency_and_not_before() -> None:
    stream = PushedStream("rgb.scene", StreamModel(latency_s=0.08))
    t = time.monotonic()
    stream.expose(np.zeros(3), t)
    with pytest.raises(FrameTimeoutError):
        stream.async_read(timeout_s=0.03)  # still in flight
    frame = stream.async_read(timeout_s=1.0)
    assert frame.t_capture == t and frame.t_receive == pytest.approx(t + 0.08)
    assert time.monotonic() >= t + 0.08
    assert stream.read_latest(max_age_ms=1000.0).seq == 0


def test_rate_decimates_exposures_on_its_grid() -> None:
    stream = PushedStream("tactile.left", StreamModel(rate_hz=5.0))
    t0 = time.monotonic() - 10.0  # frames already due: no waiting
    for i in range(10):  # a 10 Hz sim
        stream.expose(np.full(1, i), t0 + 0.1 * i)
    got = [int(stream.async_read(0.1).image[0]) for _ in range(5)]
    assert got == [0, 2, 4, 6, 8]


def test_jitter_never_reorders_frames() -> None:
    stream = PushedStream("rgb.scene", StreamModel(latency_s=0.0, jitter_s=0.05), seed=3)
    t0 = time.monotonic() - 10.0
    for i in range(50):
        stream.expose(np.full(1, i), t0 + 0.001 * i)
    frames = [stream.async_read(0.1) for _ in range(50)]
    assert [f.seq for f in frames] == list(range(50))
    assert np.all(np.diff([f.t_receive for f in frames]) >= 0)
    assert len({round(f.t_receive - f.t_capture, 6) for f in frames}) > 10  # it does jitter


def test_a_stopped_stream_loses_its_frames_in_flight_and_delivers_nothing() -> None:
    stream = PushedStream("rgb.scene", StreamModel(latency_s=0.05))
    stream.expose(np.zeros(1), time.monotonic())
    stream.stop()
    stream.expose(np.zeros(1), time.monotonic())
    with pytest.raises(FrameTimeoutError):
        stream.async_read(timeout_s=0.1)
    with pytest.raises(DeviceError):
        stream.read_latest(max_age_ms=1000.0)


def test_a_relayed_frame_keeps_its_times_and_numbers_and_a_failure_reaches_the_reader() -> None:
    stream = PushedStream("tactile.left", StreamModel(latency_s=5.0))  # the model is not used
    t = time.monotonic()
    stream.expose(np.zeros(1), t - 0.03, t_receive=t - 0.01, seq=0)
    stream.expose(np.ones(1), t - 0.02, t_receive=t, seq=3)  # frames 1 and 2 were lost
    first, second = stream.async_read(0.1), stream.async_read(0.1)
    assert (first.t_capture, first.t_receive, second.seq) == (t - 0.03, t - 0.01, 3)
    assert stream.stats().dropped == 2
    stream.fail(DeviceError("tactile.left: unplugged"))
    with pytest.raises(DeviceError, match="unplugged"):
        stream.async_read(timeout_s=5.0)
