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
        return self._read(n)

    def at_or_before(self, times: Sequence[float]) -> list[Frame | None]:
        """For each time, the newest kept frame captured at or before it (None: none is)."""
        frames = self._read(self.spec.capacity)
        captured = np.array([f.t_capture for f in frames])
        found = np.searchsorted(captured, np.asarray(times, np.float64), side="right") - 1
        return [frames[i] if i >= 0 else None for i in found]

    def close(self) -> None:
        """Drop this view (the block stays for the others until its owner unlinks it)."""
        del self._count, self._t_capture, self._t_receive, self._seq, self._images
        self._block.close()

    def unlink(self) -> None:
        """Free the block (the owner, once every user has closed it)."""
        self._block.unlink()

    def _read(self, n: int) -> list[Frame]:
        k = self.spec.capacity
        first_count = int(self._count[0])
        start = max(0, first_count - min(n, k - 1))
        slots = [i % k for i in range(start, first_count)]
        images = self._images[slots].copy()
        t_capture = self._t_capture[slots].copy()
        t_receive = self._t_receive[slots].copy()
        seq = self._seq[slots].copy()
        second_count = int(self._count[0])
        valid = max(start, second_count - k + 1)  # older ones may have been overwritten
        return [
            Frame(images[j], float(t_capture[j]), float(t_receive[j]), int(seq[j]))
            for j, index in enumerate(range(start, first_count))
            if index >= valid
        ]
