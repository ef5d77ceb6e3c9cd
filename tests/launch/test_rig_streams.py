"""A rig's streams on their way to the loop: the newest frame of each, a stopped, failed or
silent device named in one error, and nothing left behind when they close or fail to start."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from multiprocessing import shared_memory

import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.pushed import PushedStream, StreamModel
from drivers.spec import FieldSpec
from launch import rig_streams
from launch.rig_streams import RigStreams
from sensing.ring_buffer import RingBuffer

SPECS = {"a": FieldSpec(shape=(2,), dtype="float32"), "b": FieldSpec(shape=(3,), dtype="uint8")}
MAX_AGE = {"a": 1.0, "b": 0.3}  # s; a with room for a loaded machine


def value(key: str, i: int) -> np.ndarray:
    spec = SPECS[key]
    return np.full(spec.shape, i, spec.dtype)


@pytest.fixture
def devices() -> dict[str, PushedStream]:
    return {k: PushedStream(k, StreamModel()) for k in SPECS}


@pytest.fixture
def streams(devices: dict[str, PushedStream]) -> Iterator[RigStreams]:
    rig = RigStreams(devices, SPECS, MAX_AGE)
    yield rig
    rig.close()


def push(devices: dict[str, PushedStream], i: int, keys: str = "ab") -> float:
    t = time.monotonic()
    for k in keys:
        devices[k].expose(value(k, i), t)
    return t


def test_each_stream_is_observed_at_its_newest_frame(
    devices: dict[str, PushedStream], streams: RigStreams
) -> None:
    since = time.monotonic()
    for i in range(3):
        last = push(devices, i)
        time.sleep(0.01)
    first = streams.wait_first_frames(since)
    assert since <= first <= last
    deadline = time.monotonic() + 2.0  # the capture threads poll every 50 ms
    while streams.latest("a")[0] != 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    observed = streams.observe(time.monotonic())
    for k in SPECS:
        np.testing.assert_array_equal(observed[k], value(k, 2))
        assert observed[k].dtype == np.dtype(SPECS[k].dtype)
    assert streams.dropped_frames() == 0


def test_a_stream_that_stops_is_named_stale_and_the_other_is_not(
    devices: dict[str, PushedStream], streams: RigStreams
) -> None:
    streams.wait_first_frames(push(devices, 0) - 1e-3)
    devices["b"].stop()
    end = time.monotonic() + 0.6  # twice b's age limit, a kept fresh
    while time.monotonic() < end:
        push(devices, 1, "a")
        time.sleep(0.02)
    time.sleep(0.1)  # a's last frame into its buffer
    with pytest.raises(DeviceError, match=r"^b: stale: its newest frame is \d+ ms old"):
        streams.observe(time.monotonic())


def test_a_failed_device_is_raised_by_the_next_observation(
    devices: dict[str, PushedStream], streams: RigStreams
) -> None:
    streams.wait_first_frames(push(devices, 0) - 1e-3)
    devices["a"].fail(DeviceError("a: unplugged"))
    deadline = time.monotonic() + 2.0
    with pytest.raises(DeviceError, match="a: unplugged"):
        while time.monotonic() < deadline:  # once the capture thread has read the error
            push(devices, 1, "b")
            streams.observe(time.monotonic())
            time.sleep(0.02)


def test_a_stream_without_a_first_frame_is_named(
    devices: dict[str, PushedStream], streams: RigStreams, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rig_streams, "FIRST_FRAME_S", 0.3)
    since = push(devices, 0, "a")
    with pytest.raises(DeviceError, match=r"^\['b'\]: no frame within 0 s of the start"):
        streams.wait_first_frames(since - 1e-3)


def test_closing_or_failing_to_start_leaves_no_thread_and_no_shared_memory(
    devices: dict[str, PushedStream], monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[str] = []
    create = RingBuffer.create

    def recorded(capacity: int, shape: tuple[int, ...], dtype: str) -> RingBuffer:
        buffer = create(capacity, shape, dtype)
        made.append(buffer.spec.name)
        return buffer

    monkeypatch.setattr(RingBuffer, "create", recorded)
    threads = threading.active_count()
    with pytest.raises(KeyError):  # b's max age missing: after a's and b's buffers exist
        RigStreams(devices, SPECS, {"a": 0.3})
    RigStreams(devices, SPECS, MAX_AGE).close()
    assert len(made) == 4 and threading.active_count() == threads
    for name in made:
        with pytest.raises(FileNotFoundError):
            shared_memory.SharedMemory(name=name)
