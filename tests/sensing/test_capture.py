"""Capture threads from replayed UVC cameras into ring buffers, read by the aligner: the whole
path of a live observation, at two rates, and a device fault reaching the caller."""

from __future__ import annotations

import contextlib
import time
from functools import partial

import cv2
import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.uvc import UVCCamera, UVCConfig
from drivers.uvc_replay import ReplayDevices, ReplaySource, replay_camera
from sensing.aligner import Aligner, observation_times
from sensing.capture import CaptureProcess, CaptureThread
from sensing.ring_buffer import RingBuffer

SHAPE = (24, 32, 3)


@pytest.fixture
def devices(monkeypatch: pytest.MonkeyPatch) -> ReplayDevices:
    replay = ReplayDevices({})
    monkeypatch.setattr(cv2, "VideoCapture", replay.video_capture)
    return replay


def uvc(devices: ReplayDevices, index: int, source: ReplaySource) -> UVCCamera:
    devices.sources[index] = source
    config = UVCConfig(name=f"cam{index}", device=index, width=32, height=24, fps=source.fps)
    return UVCCamera(config)


def test_two_rates_aligned_on_the_policy_grid(devices: ReplayDevices) -> None:
    images = [np.full(SHAPE, i, np.uint8) for i in range(10)]
    fast, slow = (
        uvc(devices, 0, ReplaySource(images, 60.0)),
        uvc(devices, 1, ReplaySource(images, 20.0)),
    )
    rings = {k: RingBuffer.create(16, SHAPE, "uint8") for k in ("fast", "slow")}
    workers = []
    try:
        for key, camera in (("fast", fast), ("slow", slow)):
            camera.connect()
            workers.append(CaptureThread(key, camera, rings[key]).start())
        time.sleep(0.4)
        aligner = Aligner(rings, max_age_s=0.25)  # loose: a loaded CI machine delays threads
        aligned = aligner.observe(observation_times(time.monotonic(), 2, 0.1))
        for key in rings:
            assert aligned.frames[key].shape == (2, *SHAPE) and (aligned.age_s[key] >= 0).all()
        assert abs(workers[0].stats().fps - 60.0) < 6.0
        assert rings["fast"].count > 2 * rings["slow"].count  # each at its own rate
    finally:
        for worker in workers:
            worker.stop()
        for camera in (fast, slow):
            camera.close()
        for ring in rings.values():
            ring.close()
            ring.unlink()


def test_a_device_fault_ends_the_worker_and_reaches_the_caller(devices: ReplayDevices) -> None:
    images = [np.zeros(SHAPE, np.uint8)]
    camera = uvc(devices, 0, ReplaySource(images, 60.0, wrong_size_at=10))
    ring = RingBuffer.create(4, SHAPE, "uint8")
    try:
        camera.connect()
        worker = CaptureThread("cam", camera, ring, poll_s=0.05).start()
        deadline = time.monotonic() + 2.0
        while worker.error is None and time.monotonic() < deadline:
            time.sleep(0.02)
        with pytest.raises(DeviceError, match="cam0: delivered a 16x12 frame"):
            worker.check()
        worker.stop()
        assert 0 < ring.count <= 10
    finally:
        camera.close()
        ring.close()
        ring.unlink()


def test_a_capture_process_fills_the_buffer_and_reports_faults() -> None:
    images = [np.full(SHAPE, i, np.uint8) for i in range(10)]
    config = UVCConfig(name="pad", device=0, width=32, height=24, fps=60.0)
    ring = RingBuffer.create(16, SHAPE, "uint8")
    try:
        good = {0: ReplaySource(images, 60.0)}
        worker = CaptureProcess("pad", partial(replay_camera, config, good), ring).start()
        deadline = time.monotonic() + 20.0  # a spawned process imports numpy and OpenCV first
        while ring.count < 30 and time.monotonic() < deadline:
            time.sleep(0.05)
        worker.check()
        stats = worker.stats()
        worker.stop()
        assert stats.frames >= 30 and abs(stats.fps - 60.0) < 6.0 and stats.dropped >= 0
        assert [int(f.image[0, 0, 0]) for f in ring.latest(3)] == [
            f.seq % 10 for f in ring.latest(3)]  # fmt: skip

        bad = {0: ReplaySource(images, 60.0, wrong_size_at=5)}
        worker = CaptureProcess("pad", partial(replay_camera, config, bad), ring).start()
        deadline = time.monotonic() + 20.0
        while worker.error is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with contextlib.suppress(DeviceError):
                worker.check()
        with pytest.raises(DeviceError, match="pad: delivered a 16x12 frame"):
            worker.check()
        worker.stop()
    finally:
        ring.close()
        ring.unlink()
