"""The sim twin in wall-clock time: streams deliver at their rate, latency and jitter, in order;
a stopped stream delivers nothing; the sim applies fresh commands and holds on stale ones."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.base import DeviceError, FrameTimeoutError
from sim import PegInsertionConfig, make_env
from sim.rig import SimRig, SimStream, StreamModel
from tests.conftest import TINY_TASK


def test_a_frame_arrives_after_its_latency_and_not_before() -> None:
    stream = SimStream("rgb.scene", StreamModel(latency_s=0.08))
    t = time.monotonic()
    stream.expose(np.zeros(3), t)
    with pytest.raises(FrameTimeoutError):
        stream.async_read(timeout_s=0.03)  # still in flight
    frame = stream.async_read(timeout_s=1.0)
    assert frame.t_capture == t and frame.t_receive == pytest.approx(t + 0.08)
    assert time.monotonic() >= t + 0.08
    assert stream.read_latest(max_age_ms=1000.0).seq == 0


def test_rate_decimates_exposures_on_its_grid() -> None:
    stream = SimStream("tactile.left", StreamModel(rate_hz=5.0))
    t0 = time.monotonic() - 10.0  # frames already due: no waiting
    for i in range(10):  # a 10 Hz sim
        stream.expose(np.full(1, i), t0 + 0.1 * i)
    got = [int(stream.async_read(0.1).image[0]) for _ in range(5)]
    assert got == [0, 2, 4, 6, 8]


def test_jitter_never_reorders_frames() -> None:
    stream = SimStream("rgb.scene", StreamModel(latency_s=0.0, jitter_s=0.05), seed=3)
    t0 = time.monotonic() - 10.0
    for i in range(50):
        stream.expose(np.full(1, i), t0 + 0.001 * i)
    frames = [stream.async_read(0.1) for _ in range(50)]
    assert [f.seq for f in frames] == list(range(50))
    assert np.all(np.diff([f.t_receive for f in frames]) >= 0)
    assert len({round(f.t_receive - f.t_capture, 6) for f in frames}) > 10  # it does jitter


def test_a_stopped_stream_loses_its_frames_in_flight_and_delivers_nothing() -> None:
    stream = SimStream("rgb.scene", StreamModel(latency_s=0.05))
    stream.expose(np.zeros(1), time.monotonic())
    stream.stop()
    stream.expose(np.zeros(1), time.monotonic())
    with pytest.raises(FrameTimeoutError):
        stream.async_read(timeout_s=0.1)
    with pytest.raises(DeviceError):
        stream.read_latest(max_age_ms=1000.0)


@pytest.fixture(scope="module")
def rig() -> SimRig:
    config = PegInsertionConfig.model_validate(TINY_TASK)
    rig = SimRig(lambda: make_env("peg_insertion", config), {}, stale_after_s=0.15)
    yield rig
    rig.close()


def newest(stream: SimStream) -> np.ndarray:
    """The newest frame delivered so far (reading every one in flight)."""
    frame = stream.async_read(1.0)
    while True:
        try:
            frame = stream.async_read(0.0)
        except FrameTimeoutError:
            return frame.image


def test_the_rig_steps_in_real_time_and_holds_without_a_fresh_command(rig: SimRig) -> None:
    rig.begin(seed=0)
    time.sleep(0.55)  # ~5 steps at 10 Hz with no command: every one holds
    steps, holds = rig.record.steps, rig.record.holds
    assert steps >= 3 and abs(holds - steps) <= 1  # (read between the count and the step)
    start = newest(rig.streams["proprio.ee_pos"])
    action = np.array([*(start + np.array([0.0, 0.0, 0.01])), 0.0], np.float32)
    end = time.monotonic() + 1.0
    while time.monotonic() < end:  # a fresh command every 50 ms: applied, not held
        rig.command(action, time.monotonic())
        time.sleep(0.05)
    assert rig.record.steps >= steps + 5 and rig.record.holds <= holds + 1
    assert newest(rig.streams["proprio.ee_pos"])[2] > start[2] + 0.005  # it rose
    rig.command(action, time.monotonic() - 1.0)  # a stale command: held
    holds = rig.record.holds
    time.sleep(0.35)
    assert rig.record.holds >= holds + 2
    rig.end()


def test_an_unknown_stream_is_refused() -> None:
    config = PegInsertionConfig.model_validate(TINY_TASK)
    with pytest.raises(ValueError, match=r"no observation \['rgb.wrist'\]"):
        SimRig(lambda: make_env("peg_insertion", config), {"rgb.wrist": StreamModel()}, 0.1)
