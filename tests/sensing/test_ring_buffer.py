"""The shared-memory ring buffer: the newest k - 1 frames in order, copies, the frame at or
before a time, and no torn frame while another process writes as fast as it can."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Iterator

import numpy as np
import pytest

from drivers.base import DeviceError, Frame
from sensing.ring_buffer import RingBuffer, RingSpec

SHAPE = (4, 6, 3)


def frame(i: int, shape: tuple[int, ...] = SHAPE) -> Frame:
    return Frame(np.full(shape, i % 256, np.uint8), float(i), float(i) + 0.01, i)


@pytest.fixture
def ring() -> Iterator[RingBuffer]:
    buffer = RingBuffer.create(4, SHAPE, "uint8")
    yield buffer
    buffer.close()
    buffer.unlink()


def test_the_newest_frames_come_oldest_first_as_copies(ring: RingBuffer) -> None:
    assert ring.latest(3) == [] and ring.count == 0
    for i in range(6):
        ring.put(frame(i))
    got = ring.latest(10)  # at most k - 1: the next slot is the one a writer fills
    assert [f.seq for f in got] == [3, 4, 5] and ring.count == 6
    assert [f.t_capture for f in got] == [3.0, 4.0, 5.0] and got[0].t_receive == 3.01
    assert [int(f.image[0, 0, 0]) for f in ring.latest(2)] == [4, 5]
    assert [f.seq for f in ring.snapshot(2)[0]] == [4, 5] and ring.snapshot(2)[1] == 6
    got[-1].image[:] = 0
    assert ring.latest(1)[0].image.min() == 5  # a copy: the buffer is untouched


def test_the_frame_at_or_before_each_time(ring: RingBuffer) -> None:
    for i in range(5):
        ring.put(frame(i))  # kept: 2, 3, 4
    found = ring.at_or_before([2.5, 4.0, 9.0, 1.5])
    assert [f.seq if f else None for f in found] == [2, 4, 4, None]


def test_a_choice_the_writer_lapped_is_made_again(
    ring: RingBuffer, monkeypatch: pytest.MonkeyPatch
) -> None:
    for i in range(5):
        ring.put(frame(i))
    valid_from, laps = ring._valid_from, [4]  # the writer puts 4 frames (a whole buffer)

    def lapped(first_count: int) -> int:  # ... while the reader was copying
        for _ in range(laps.pop() if laps else 0):
            ring.put(frame(ring.count))
        return valid_from(first_count)

    monkeypatch.setattr(ring, "_valid_from", lapped)
    found = ring.at_or_before([3.0, 100.0])  # chosen first: 3 and 4, both overwritten since
    assert [f.seq if f else None for f in found] == [None, 8]  # 3 is gone; 8 is the newest
    assert all(f is None or f.image.min() == f.seq for f in found)
    gathered = ring.gather([7.5, 7.0, 100.0])  # one stacked copy, a frame may repeat
    assert gathered.images.shape == (3, *SHAPE) and gathered.seq.tolist() == [7, 7, 8]


def test_a_frame_of_another_shape_is_refused(ring: RingBuffer) -> None:
    with pytest.raises(DeviceError, match=r"a frame of shape \(2, 2, 3\) uint8 for a ring buffer"):
        ring.put(frame(0, (2, 2, 3)))
    with pytest.raises(ValueError, match="capacity >= 2"):
        RingBuffer.create(1, SHAPE, "uint8")


BIG = (128, 128, 3)  # a copy takes long enough for the writer to lap the reader


def _write(spec: RingSpec, n: int) -> None:
    ring = RingBuffer.attach(spec)
    for i in range(n):
        ring.put(frame(i, BIG))
    ring.close()


def test_no_torn_frame_while_another_process_writes() -> None:
    ring = RingBuffer.create(3, BIG, "uint8")
    writer = mp.get_context("spawn").Process(target=_write, args=(ring.spec, 20000))
    try:
        writer.start()
        reads = seen = 0
        while writer.is_alive() or reads == 0:
            newest = ring.at_or_before([float(ring.count - 2), 1e9])
            for f in [*ring.latest(2), *(f for f in newest if f is not None)]:
                # every pixel and the times belong to the same put
                assert f.image.min() == f.image.max() == f.seq % 256 and f.t_capture == f.seq
                seen += 1
            reads += 1
        writer.join()
        assert writer.exitcode == 0 and ring.count == 20000 and seen > 0
    finally:
        ring.close()
        ring.unlink()
