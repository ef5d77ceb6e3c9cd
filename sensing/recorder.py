"""Recording live streams into the episode store: at a fixed rate, on absolute deadlines, every
stream's newest frame at or before the tick goes into the episode in progress; `commit`
makes it durable. The store's guarantee holds: a crash, or a stream that stops mid-episode,
loses at most the episode in progress, never a committed one.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from drivers.base import DeviceError
from drivers.clock import sleep_until
from drivers.spec import FieldSpec
from sensing.aligner import Aligner
from sensing.ring_buffer import RingBuffer
from sensing.store import EpisodeWriter


def stream_schema(
    buffers: Mapping[str, RingBuffer], units: Mapping[str, str] | None = None
) -> dict[str, FieldSpec]:
    """The store's schema for these streams, taken from their ring buffers (what the devices
    deliver): key -> shape and dtype, `units` per key (default "rgb" for colour images),
    the sensor named by the key's suffix (`tactile.left` -> `left`)."""
    units = dict(units or {})
    return {
        key: FieldSpec(
            shape=ring.spec.shape,
            dtype=ring.spec.dtype,
            units=units.get(key, "rgb" if len(ring.spec.shape) == 3 else ""),
            sensor=key.rsplit(".", 1)[-1],
        )
        for key, ring in buffers.items()
    }


class LiveRecorder:
    """Adds aligned frames of every stream of `aligner` to `writer` at `hz`."""

    def __init__(self, writer: EpisodeWriter, aligner: Aligner, hz: float) -> None:
        missing = sorted(set(writer.schema) ^ set(aligner.buffers))
        if missing:
            raise DeviceError(f"the store's schema and the streams differ in {missing}")
        if hz <= 0:
            raise ValueError(f"hz must be positive, got {hz}")
        self.writer, self.aligner, self.hz = writer, aligner, hz

    def record(self, seconds: float) -> int:
        """Record `seconds` (rounded to whole ticks) into the episode in progress; returns
        the steps added. A stream that is stale or missing at a tick drops the episode in
        progress and raises a DeviceError saying so."""
        dt, steps = 1.0 / self.hz, max(1, round(seconds * self.hz))
        start, base = time.monotonic(), self.writer.n_steps  # a later call continues the clock
        for i in range(steps):
            tick = start + i * dt
            sleep_until(tick)
            try:
                aligned = self.aligner.observe([tick])
            except DeviceError as err:
                dropped = self.writer.n_steps
                self.writer.discard()
                raise DeviceError(
                    f"{err}; the episode in progress ({dropped} steps) was dropped, the "
                    f"{self.writer.n_episodes} committed ones are kept"
                ) from None
            self.writer.add({k: v[0] for k, v in aligned.frames.items()}, timestamp=(base + i) * dt)
        return steps

    def commit(self, **meta: Any) -> int:
        """Make the episode in progress durable (EpisodeWriter.commit's metadata)."""
        return self.writer.commit(**meta)
