"""Live streams recorded into the episode store: replayed cameras through capture threads and
the aligner, at a fixed rate; a camera that stops drops only the episode in progress."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.base import DeviceError
from drivers.uvc import UVCCamera, UVCConfig
from drivers.uvc_replay import ReplayDevices, ReplaySource
from sensing.aligner import Aligner
from sensing.capture import CaptureThread
from sensing.recorder import LiveRecorder, stream_schema
from sensing.ring_buffer import RingBuffer
from sensing.store import EpisodeStore, EpisodeWriter

SHAPE = (24, 32, 3)


@pytest.fixture
def streams(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, RingBuffer]]:
    """tactile.left at 60 fps, and rgb.wrist at 30 fps which stops after 20 frames."""
    images = [np.full(SHAPE, 10 + i, np.uint8) for i in range(5)]
    stops = ReplaySource(images, 30.0, unplug_at=20)
    replay = ReplayDevices({0: ReplaySource(images, 60.0), 1: stops})
    monkeypatch.setattr(cv2, "VideoCapture", replay.video_capture)
    rings, cameras, workers = {}, [], []
    for key, index, fps in (("tactile.left", 0, 60.0), ("rgb.wrist", 1, 30.0)):
        camera = UVCCamera(UVCConfig(name=key, device=index, width=32, height=24, fps=fps))
        camera.connect()
        rings[key] = RingBuffer.create(8, SHAPE, "uint8")
        cameras.append(camera)
        workers.append(CaptureThread(key, camera, rings[key]).start())
    yield rings
    for worker, camera in zip(workers, cameras, strict=True):
        worker.stop()
        camera.close()
    for ring in rings.values():
        ring.close()
        ring.unlink()


def test_streams_are_recorded_at_the_rate_and_a_stopped_one_drops_only_its_episode(
    streams: dict[str, RingBuffer], tmp_path: Path
) -> None:
    schema = stream_schema(streams)
    assert schema["tactile.left"].sensor == "left" and schema["rgb.wrist"].units == "rgb"
    writer = EpisodeWriter.create(tmp_path / "live.zarr", schema)
    recorder = LiveRecorder(writer, Aligner(streams, max_age_s=0.2), hz=20.0)
    time.sleep(0.1)  # both streams have frames
    assert recorder.record(0.25) == 5
    assert recorder.record(0.1) == 2  # a second stretch continues the episode's clock
    assert recorder.commit(success=True, rig="replay") == 0
    with pytest.raises(DeviceError, match=r"rgb\.wrist: stale.*the episode in progress \(\d+ "
                       r"steps\) was dropped, the 1 committed ones are kept"):  # fmt: skip
        recorder.record(2.0)  # the wrist camera stops after 20 frames (0.67 s)
    writer.close()
    store = EpisodeStore.open(tmp_path / "live.zarr")
    assert store.n_episodes == 1
    episode = store.episode(0)
    np.testing.assert_allclose(episode["timestamp"], np.arange(7) * 0.05)
    assert episode["rgb.wrist"].shape == (7, *SHAPE) and episode["tactile.left"].min() >= 10


def test_the_store_must_hold_exactly_the_streams(
    streams: dict[str, RingBuffer], tmp_path: Path
) -> None:
    schema = stream_schema({"tactile.left": streams["tactile.left"]})
    writer = EpisodeWriter.create(tmp_path / "one.zarr", schema)
    with pytest.raises(DeviceError, match=r"differ in \['rgb\.wrist'\]"):
        LiveRecorder(writer, Aligner(streams, 0.2), hz=10.0)
    writer.close()
