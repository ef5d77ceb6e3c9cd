"""The inference worker beside the loop: a request comes back as a chunk stamped with its
request time and latency, made from the aligned window and with what the loop asked (the
committed actions, how to match them); a stale stream or a failing policy comes back as one
DeviceError, never as a chunk or a hung worker."""

from __future__ import annotations

import time
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest

from drivers.base import DeviceError, Frame
from launch.inference_worker import InferenceWorker
from sensing.aligner import Aligner
from sensing.ring_buffer import RingBuffer

DT = 0.1


class FakePolicy:
    """Records every plan call; answers a chunk of its call number, or raises."""

    def __init__(self, fail: bool = False) -> None:
        self.config = SimpleNamespace(n_obs_steps=2, base_frame_keys=[])
        self.io = SimpleNamespace(obs_shapes={"proprio.joints": (2,)})
        self.calls: list[tuple[dict[str, np.ndarray], Any, float]] = []
        self.fail = fail

    def plan(self, window: dict[str, np.ndarray], base: Any, committed: Any,
             guidance: float = 0.0) -> np.ndarray:  # fmt: skip
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        self.calls.append((window, committed, guidance))
        return np.full((3, 2), len(self.calls), np.float32)


@pytest.fixture
def buffer() -> Iterator[RingBuffer]:
    ring = RingBuffer.create(16, (2,), "float32")
    yield ring
    ring.close()
    ring.unlink()


def feed(ring: RingBuffer, seconds: float) -> float:
    """Frames every 10 ms over the last `seconds`, each holding its capture time."""
    now = time.monotonic()
    for i, t in enumerate(np.arange(now - seconds, now, 0.01)):
        ring.put(Frame(np.full(2, t, np.float32), float(t), float(t), i))
    return now


def wait_take(worker: InferenceWorker) -> Any:
    end = time.monotonic() + 5.0
    while time.monotonic() < end:
        chunk = worker.take()
        if chunk is not None:
            return chunk
        time.sleep(0.005)
    raise AssertionError("no chunk within 5 s")


def test_a_request_comes_back_stamped_with_what_the_loop_asked(buffer: RingBuffer) -> None:
    policy = FakePolicy()
    aligner = Aligner({"proprio.joints": buffer}, {"proprio.joints": 0.5})
    worker = InferenceWorker(policy, aligner, DT, extra_latency_s=0.05, guidance=5.0)  # type: ignore[arg-type]
    try:
        now = feed(buffer, 0.15)
        worker.begin(now - 0.15)
        committed = (np.zeros((2, 2), np.float32), np.ones(2, np.float32))
        worker.request(now, committed)
        chunk = wait_take(worker)
        assert chunk.t0 == now and chunk.latency_s >= 0.05  # the injected 50 ms
        ((window, asked, guidance),) = policy.calls
        assert asked is committed and guidance == 5.0
        times = window["proprio.joints"][:, 0]  # the window: now - dt and now, aligned
        np.testing.assert_allclose(times, [now - DT, now - 0.01], atol=0.011)
        assert worker.idle and worker.expected_latency() == chunk.latency_s
    finally:
        worker.close()


def test_a_stale_stream_and_a_failing_policy_are_device_errors(buffer: RingBuffer) -> None:
    aligner = Aligner({"proprio.joints": buffer}, {"proprio.joints": 0.05})
    worker = InferenceWorker(FakePolicy(), aligner, DT)  # type: ignore[arg-type]
    failing = InferenceWorker(FakePolicy(fail=True), aligner, DT)  # type: ignore[arg-type]
    try:
        now = feed(buffer, 0.15)
        worker.begin(now - 0.15)
        worker.request(now + 1.0)  # a second after the newest frame: stale
        with pytest.raises(DeviceError, match=r"proprio\.joints"):
            wait_take(worker)
        failing.begin(now - 0.15)
        failing.request(now)
        with pytest.raises(DeviceError, match=r"inference: RuntimeError\(.CUDA out of memory"):
            wait_take(failing)
        assert failing.idle  # ready for the next request, not hung
    finally:
        worker.close()
        failing.close()
