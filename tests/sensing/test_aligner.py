"""The aligner: each stream's newest frame at or before each observation time, with its age;
a stream that stopped or has not started is an error naming it."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pytest

from drivers.base import DeviceError, Frame
from sensing.aligner import Aligner, observation_times
from sensing.ring_buffer import RingBuffer


def stream(times: list[float], shape: tuple[int, ...] = (2, 2)) -> RingBuffer:
    ring = RingBuffer.create(len(times) + 1, shape, "uint16")
    for i, t in enumerate(times):
        ring.put(Frame(np.full(shape, i, np.uint16), t, t + 0.002, i))
    return ring


@pytest.fixture
def streams() -> Iterator[dict[str, RingBuffer]]:
    made = {
        "tactile.left": stream([k * 0.1 for k in range(10)]),  # 10 Hz
        "rgb.wrist": stream([k / 30 for k in range(30)], (3, 4, 3)),  # 30 Hz
    }
    yield made
    for ring in made.values():
        ring.close()
        ring.unlink()


def test_the_grid_ends_now_oldest_first() -> None:
    assert observation_times(1.0, 3, 0.1) == pytest.approx([0.8, 0.9, 1.0])


def test_each_stream_gives_its_newest_frame_at_or_before_each_time(
    streams: dict[str, RingBuffer],
) -> None:
    aligned = Aligner(streams, max_age_s=0.2).observe([0.45, 0.55])
    assert {k: v.tolist() for k, v in aligned.seq.items()} == {
        "tactile.left": [4, 5],
        "rgb.wrist": [13, 16],
    }
    np.testing.assert_allclose(aligned.t_capture["tactile.left"], [0.4, 0.5])
    np.testing.assert_allclose(aligned.t_receive["tactile.left"], [0.402, 0.502])
    np.testing.assert_allclose(aligned.age_s["rgb.wrist"], [0.45 - 13 / 30, 0.55 - 16 / 30])
    assert aligned.frames["rgb.wrist"].shape == (2, 3, 4, 3)
    assert aligned.frames["tactile.left"][:, 0, 0].tolist() == [4, 5]  # the frames themselves


def test_a_stale_stream_is_named_with_its_age(streams: dict[str, RingBuffer]) -> None:
    limits = {"tactile.left": 0.25, "rgb.wrist": 0.05}
    with pytest.raises(DeviceError, match=r"rgb\.wrist: stale: its newest frame is 133 ms old"):
        Aligner(streams, limits).observe([1.1])  # wrist's last frame: 29/30 s
    with pytest.raises(DeviceError, match=r"tactile\.left: no frame captured at or before"):
        Aligner(streams, 1.0).observe([-0.1, 0.0])


def test_every_stream_needs_an_age_limit(streams: dict[str, RingBuffer]) -> None:
    with pytest.raises(ValueError, match=r"no max_age_s for \['tactile.left'\]"):
        Aligner(streams, {"rgb.wrist": 0.1})
