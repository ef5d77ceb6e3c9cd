"""Observations on the policy's time grid from streams that arrive at their own rates: for each
observation time, every stream's newest frame captured at or before it, with its age.

A stream with no such frame, or whose frame is older than its limit, is a DeviceError naming
the stream and the age: a policy must not act on a camera that stopped (the real-time loop
stops the arm on it within one control period).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from drivers.base import DeviceError
from sensing.ring_buffer import RingBuffer


def observation_times(now: float, n_obs: int, dt: float) -> list[float]:
    """The policy's grid ending at `now`: n_obs times dt apart, oldest first."""
    return [now - (n_obs - 1 - i) * dt for i in range(n_obs)]


@dataclass(frozen=True)
class Aligned:
    """One observation: per stream (T_o, ...) frames, their capture and receive times (T_o,),
    their ages (T_o,) seconds at the observation times, and the frames' seq (T_o,)."""

    times: np.ndarray  # (T_o,) the observation times, monotonic seconds
    frames: dict[str, np.ndarray]
    t_capture: dict[str, np.ndarray]
    age_s: dict[str, np.ndarray]
    seq: dict[str, np.ndarray]
    t_receive: dict[str, np.ndarray]


FIELDS = ("frames", "t", "age", "seq", "t_receive")


class Aligner:
    """Reads every stream's ring buffer; `max_age_s`: per stream (or one for all), how old a
    frame may be at its observation time (a period or two of the stream)."""

    def __init__(
        self, buffers: Mapping[str, RingBuffer], max_age_s: Mapping[str, float] | float
    ) -> None:
        if not buffers:
            raise ValueError("an aligner needs at least one stream")
        ages = max_age_s if isinstance(max_age_s, Mapping) else dict.fromkeys(buffers, max_age_s)
        missing = sorted(set(buffers) - set(ages))
        if missing:
            raise ValueError(f"no max_age_s for {missing}")
        self.buffers, self.max_age_s = dict(buffers), {k: float(ages[k]) for k in buffers}

    def observe(self, times: Sequence[float]) -> Aligned:
        grid = np.asarray(times, np.float64)
        out: dict[str, dict[str, np.ndarray]] = {k: {} for k in FIELDS}
        for key, buffer in self.buffers.items():
            g = buffer.gather(list(grid))
            if not g.found.all():
                raise DeviceError(
                    f"{key}: no frame captured at or before the observation time "
                    f"({buffer.count} received; the stream has not started, or its "
                    f"{buffer.spec.capacity}-frame buffer is too short for the horizon)"
                )
            age, limit = grid - g.t_capture, self.max_age_s[key]
            if (age > limit).any():
                raise DeviceError(
                    f"{key}: stale: its newest frame is {age.max() * 1000:.0f} ms old at the "
                    f"observation time, over the {limit * 1000:.0f} ms allowed"
                )
            out["frames"][key], out["t"][key], out["age"][key] = g.images, g.t_capture, age
            out["seq"][key], out["t_receive"][key] = g.seq, g.t_receive
        return Aligned(grid, out["frames"], out["t"], out["age"], out["seq"], out["t_receive"])
