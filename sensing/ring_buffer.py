"""The last k frames of one stream with their times, in shared memory: the hand-off between a
capture worker (a thread, or a process for a stream whose decoding would starve the others)
and the aligner.

One writer, any number of readers, no lock. The writer fills slot `count % k`, then advances
`count`; a reader reads `count`, copies the slots it wants, reads `count` again and keeps only
the slots the writer cannot have touched meanwhile (the slot being written is the one after
the newest; everything older than k - 1 frames behind the second count may be overwritten).
A torn frame is never returned: at worst a reader gets fewer frames than it asked for.

Layout of the block: count (int64), then per slot t_capture (float64), t_receive (float64),
seq (int64), then the images (k, *shape) of the stream's dtype.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from multiprocessing import shared_memory

import numpy as np

from drivers.base import DeviceError, Frame


@dataclass(frozen=True)
class RingSpec:
    """What a process needs to attach to a ring buffer (picklable)."""

    name: str  # the shared memory block
    capacity: int
    shape: tuple[int, ...]
    dtype: str


@dataclass
class Gathered:
    """Frames chosen for T times: images (T, *shape), t_capture, t_receive, seq (T,), and
    `found` (T,): False where no kept frame was captured at or before the time (its row is
    meaningless)."""

    images: np.ndarray
    t_capture: np.ndarray
    t_receive: np.ndarray
    seq: np.ndarray
    found: np.ndarray


class RingBuffer:
    """See the module docstring. `create` makes the block (and `unlink` frees it);
    `attach` opens one another process made."""

    def __init__(self, block: shared_memory.SharedMemory, spec: RingSpec, owner: bool) -> None:
        self.spec, self._block, self._owner = spec, block, owner
        k, buf = spec.capacity, block.buf
        self._count = np.ndarray((1,), np.int64, buf, 0)
        self._t_capture = np.ndarray((k,), np.float64, buf, 8)
        self._t_receive = np.ndarray((k,), np.float64, buf, 8 + 8 * k)
        self._seq = np.ndarray((k,), np.int64, buf, 8 + 16 * k)
        self._images = np.ndarray((k, *spec.shape), np.dtype(spec.dtype), buf, 8 + 24 * k)

    @classmethod
    def create(cls, capacity: int, shape: tuple[int, ...], dtype: str) -> RingBuffer:
        if capacity < 2:
            raise ValueError(f"a ring buffer needs capacity >= 2 (one slot is being written), "
                             f"got {capacity}")  # fmt: skip
        size = 8 + 24 * capacity + capacity * int(np.prod(shape)) * np.dtype(dtype).itemsize
        block = shared_memory.SharedMemory(create=True, size=size)
        buffer = cls(block, RingSpec(block.name, capacity, tuple(shape), dtype), owner=True)
        buffer._count[0] = 0
        return buffer

    @classmethod
    def attach(cls, spec: RingSpec) -> RingBuffer:
        return cls(shared_memory.SharedMemory(name=spec.name), spec, owner=False)

    @property
    def count(self) -> int:
        """Frames put so far."""
        return int(self._count[0])

    def put(self, frame: Frame) -> None:
        """Write `frame` into the next slot (the writer's side; one writer only)."""
        image = frame.image
        if image.shape != self.spec.shape or image.dtype != np.dtype(self.spec.dtype):
            raise DeviceError(
                f"a frame of shape {image.shape} {image.dtype} for a ring buffer of "
                f"{self.spec.shape} {self.spec.dtype}"
            )
        n = int(self._count[0])
        slot = n % self.spec.capacity
        self._images[slot] = image
        self._t_capture[slot] = frame.t_capture
        self._t_receive[slot] = frame.t_receive
        self._seq[slot] = frame.seq
        self._count[0] = n + 1  # published: readers may take it from now on

    def latest(self, n: int) -> list[Frame]:
        """Up to the `n` newest frames, oldest first (copies)."""
        return self.snapshot(n)[0]

    def snapshot(self, n: int) -> tuple[list[Frame], int]:
        """`latest(n)` and how many frames had been put when it was read: the count that
        goes with the newest frame returned (`count`, read apart, may be newer)."""
        first = int(self._count[0])
        wanted = list(range(max(0, first - min(n, self.spec.capacity - 1)), first))
        frames = self._copy(wanted)
        valid = self._valid_from(first)
        return [frames[i] for i in wanted if i >= valid], first

    def at_or_before(self, times: Sequence[float]) -> list[Frame | None]:
        """For each time, the newest kept frame captured at or before it (None: none is)."""
        g = self.gather(times)
        return [
            Frame(g.images[i], float(g.t_capture[i]), float(g.t_receive[i]), int(g.seq[i]))
            if g.found[i]
            else None
            for i in range(len(g.found))
        ]

    def gather(self, times: Sequence[float]) -> Gathered:
        """`at_or_before` as arrays, the images copied once into (T, *shape). The times are
        read first and only the chosen slots copied; if the writer lapped one of them
        meanwhile (a reader stalled for a whole buffer), the choice is made again, up to 3
        times, and a frame still lapped is reported not found."""
        k, grid = self.spec.capacity, np.asarray(times, np.float64)
        for _ in range(3):
            first = int(self._count[0])
            kept = np.arange(max(0, first - (k - 1)), first)
            position = np.searchsorted(self._t_capture[kept % k], grid, side="right") - 1
            found = position >= 0
            chosen = np.where(found, kept[np.maximum(position, 0)] if kept.size else 0, -1)
            slots = np.where(found, chosen % k, 0)
            gathered = Gathered(
                self._images[slots],  # fancy indexing: one copy, (T, *shape)
                self._t_capture[slots].copy(),
                self._t_receive[slots].copy(),
                self._seq[slots].copy(),
                found,
            )
            lapped = found & (chosen < self._valid_from(first))
            if not lapped.any():
                return gathered
        gathered.found[lapped] = False
        return gathered

    def close(self) -> None:
        """Drop this view (the block stays for the others until its owner unlinks it)."""
        del self._count, self._t_capture, self._t_receive, self._seq, self._images
        self._block.close()

    def unlink(self) -> None:
        """Free the block (the owner, once every user has closed it)."""
        self._block.unlink()

    def _copy(self, indices: list[int]) -> dict[int, Frame]:
        """Frames `indices` (counting from the first put) as the slots hold them now: a
        slot the writer reused meanwhile is caught by `_valid_from` afterwards."""
        k = self.spec.capacity
        slots = [i % k for i in indices]
        images = self._images[slots].copy()
        t_capture, t_receive = self._t_capture[slots].copy(), self._t_receive[slots].copy()
        seq = self._seq[slots].copy()
        return {
            index: Frame(images[j], float(t_capture[j]), float(t_receive[j]), int(seq[j]))
            for j, index in enumerate(indices)
        }

    def _valid_from(self, first_count: int) -> int:
        """After a copy that began at `first_count`: the oldest index the writer cannot
        have touched since (it may be writing the slot after the newest)."""
        second_count = int(self._count[0])
        return max(first_count - (self.spec.capacity - 1), second_count - self.spec.capacity + 1)
