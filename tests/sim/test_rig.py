"""The sim twin in wall-clock time: the sim applies fresh commands and holds on stale ones; a
stream it does not have is refused."""

from __future__ import annotations

import time

import numpy as np
import pytest

from drivers.base import FrameTimeoutError
from drivers.pushed import PushedStream, StreamModel
from sim import PegInsertionConfig, make_env
from sim.rig import SimRig
from tests.conftest import TINY_TASK


@pytest.fixture(scope="module")
def rig() -> SimRig:
    config = PegInsertionConfig.model_validate(TINY_TASK)
    rig = SimRig(lambda: make_env("peg_insertion", config), {}, stale_after_s=0.15)
    yield rig
    rig.close()


def newest(stream: PushedStream) -> np.ndarray:
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
