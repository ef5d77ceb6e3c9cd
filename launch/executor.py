"""The executor of the real-time loop: timestamped action chunks in, the action for this
instant out, at every control tick.

A chunk's action i belongs to wall time t0 + i dt, t0 being the time of the observation it
was planned from (diffusion_policy's convention, as in `Policy.plan`). Inference takes
time, so by the time a chunk arrives its first actions have passed: they are dropped, never
sent. At a tick the executor serves the action whose slot holds `now` (|now - t_i| <= dt/2)
and nothing else: past the end of every chunk it returns None and the loop holds the arm.

Chunks are joined one of three ways (`join`):
- "switch": a new chunk replaces the old one from the tick it arrives (LeRobot's and
  diffusion_policy's default). Cheap; the command can jump at the seam when the policy
  changed its mind.
- "ensemble": every chunk still covering `now` votes and the votes are averaged with ACT's
  weights exp(-k i), the oldest chunk first (`policies.base.ensemble_vote`, the same as the
  lockstep policy's step-indexed ensemble). Smooth seams; a slower reaction.
- "rtc" (real-time chunking, for diffusion and flow policies): joined as "switch", but each
  chunk is asked to agree with the old one (`committed`): its slots up to the expected
  arrival are pinned to the actions the robot will have executed by then, the overlap
  after them pulled toward the old plan with weights that decay to 0 at H - s (the chunk's
  length less the actions executed per chunk: RTC's soft mask), and the sampler inpaints
  them (policies/sampling.py). The
  new chunk then starts where the old one is, so the seam does not jump.

The next chunk is asked for early enough to hide inference: when the actions left in the
newest chunk before its `n_action_steps`-th would run out within the expected latency
(`request_due`). The tail past `n_action_steps` is kept as a buffer: a late chunk lets the
arm go on along the old plan instead of stopping.

Every executed action is kept with the chunk it came from, so `seam_acceleration` can tell
the largest acceleration of the command at seams (where the serving chunk changed) from the
largest within chunks.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from policies.base import ensemble_vote, rtc_weights

F32 = NDArray[np.float32]
Join = Literal["switch", "ensemble", "rtc"]


@dataclass(frozen=True)
class TimedChunk:
    """actions (N, D_a) for wall times t0 + i dt (monotonic s); `index` counts chunks."""

    t0: float
    dt: float
    actions: F32
    index: int
    latency_s: float = 0.0  # observation time -> chunk ready
    t_sensor: float = 0.0  # capture time of the oldest newest frame it was planned from

    def slot(self, now: float) -> int | None:
        """The index of the action whose slot holds `now`, or None outside the chunk."""
        i = math.floor((now - self.t0) / self.dt + 0.5)
        return i if 0 <= i < len(self.actions) else None


@dataclass
class Executed:
    """What the executor served, tick by tick (a hold is not in it)."""

    times: list[float] = field(default_factory=list)
    actions: list[F32] = field(default_factory=list)
    chunks: list[int] = field(default_factory=list)  # the chunk each came from (the newest)


class ChunkExecutor:
    def __init__(
        self,
        dt: float,
        n_action_steps: int,
        join: Join = "switch",
        ensemble_k: float = 0.01,
    ) -> None:
        """dt: the action period (s); `n_action_steps`: actions executed of each chunk
        before the next is due; `ensemble_k`: k of exp(-k i) for join="ensemble"."""
        if dt <= 0 or n_action_steps < 1:
            raise ValueError(f"dt must be > 0 and n_action_steps >= 1, got {dt}, {n_action_steps}")
        self.dt, self.n_action_steps, self.join, self.k = dt, n_action_steps, join, ensemble_k
        self.chunks: list[TimedChunk] = []  # oldest first; one with join="switch"
        self.executed = Executed()
        self.dropped = 0  # actions that arrived after their time
        self.waiting = 0  # ticks before the first chunk arrived (the arm held)
        self.starved = 0  # ticks after it with no action for now (the arm held)

    def add(self, chunk: TimedChunk, now: float) -> None:
        """Take a chunk that arrived at `now`; its actions already past are dropped."""
        first = chunk.slot(now)
        passed = len(chunk.actions) if first is None and now > chunk.t0 else (first or 0)
        self.dropped += passed
        self.chunks = [*self.chunks, chunk] if self.join == "ensemble" else [chunk]

    def action(self, now: float) -> F32 | None:
        """The action for `now`, or None (hold): every chunk has ended or not begun."""
        covering = [(c, i) for c in self.chunks if (i := c.slot(now)) is not None]
        self.chunks = [c for c in self.chunks if c.t0 + (len(c.actions) - 0.5) * c.dt > now]
        if not covering:
            if self.executed.times or self.chunks:
                self.starved += 1
            else:
                self.waiting += 1
            return None
        if self.join != "ensemble" or len(covering) == 1:
            action: F32 = covering[-1][0].actions[covering[-1][1]]
        else:
            action = ensemble_vote(np.stack([c.actions[i] for c, i in covering]), self.k)
        self.executed.times.append(now)
        self.executed.actions.append(action)
        self.executed.chunks.append(covering[-1][0].index)
        return action

    def request_due(self, now: float, expected_latency_s: float) -> bool:
        """True when the next chunk must be asked for now to arrive before the newest one's
        `n_action_steps` actions are spent (or when there is none)."""
        if not self.chunks:
            return True
        newest = self.chunks[-1]
        spent_at = newest.t0 + (min(self.n_action_steps, len(newest.actions)) - 0.5) * self.dt
        return now + expected_latency_s >= spent_at

    def committed(self, now: float, latency_s: float, horizon: int) -> tuple[F32, F32] | None:
        """What a chunk planned at `now` should agree with (join="rtc"): the newest chunk's
        actions for now + k dt, k < `horizon` while it has them (N, D_a), and their weights
        (N,): 1 up to the slot the new chunk can first serve after `latency_s`, then
        c (e^c - 1) / (e - 1) with c falling linearly to 0 at `horizon` - n_action_steps
        (RTC's soft mask: H - s), 0 after. None without a chunk. The latency is an estimate:
        a call slower than it serves its first slot softly pinned, not exactly."""
        if not self.chunks:
            return None
        newest = self.chunks[-1]
        slots = [newest.slot(now + k * self.dt) for k in range(horizon)]
        taken = [i for i in slots if i is not None]
        if not taken or slots[0] is None:
            return None
        n = next((k for k, i in enumerate(slots) if i is None), horizon)
        frozen = math.ceil(latency_s / self.dt - 1e-9) + 1  # slots run before it can arrive
        end = max(horizon - self.n_action_steps, frozen)  # RTC's H - s: free from there
        weights = rtc_weights(n, frozen, end)
        actions = newest.actions[[i for i in slots[:n] if i is not None]]
        return actions, weights

    def serving(self, now: float) -> TimedChunk | None:
        """The newest chunk covering `now` (None when holding)."""
        covering = [c for c in self.chunks if c.slot(now) is not None]
        return covering[-1] if covering else None


@dataclass(frozen=True)
class SeamStats:
    seams: int  # chunk changes in the executed commands
    measured: int  # ticks at a seam with both neighbours one period away (no hold beside)
    max_at_seams: float | None  # largest |second difference| / dt^2 over them; None: none
    max_within: float | None  # the same within chunks (units/s^2)
    dims: tuple[int, int]  # the action dimensions measured [start, stop)


def seam_acceleration(executed: Executed, dt: float, dims: tuple[int, int]) -> SeamStats:
    """The command's acceleration |a_{t+1} - 2 a_t + a_{t-1}| / dt^2 (norm over `dims`) at
    each tick t with served neighbours one period away, split by whether the serving chunk
    changed at t or t+1 (a seam) or not. A seam next to a hold (the new chunk came after the
    old one ran out) has no second difference: it is counted in `seams`, not `measured`."""
    times = np.asarray(executed.times)
    if len(times) < 3:
        seams = int(np.sum(np.diff(executed.chunks) != 0)) if executed.chunks else 0
        return SeamStats(seams, 0, None, None, dims)
    acts = np.stack(executed.actions)[:, dims[0] : dims[1]].astype(np.float64)  # (N, d)
    chunk = np.asarray(executed.chunks)
    consecutive = np.isclose(np.diff(times), dt, rtol=0.25)  # (N-1,) no hold between
    ok = consecutive[:-1] & consecutive[1:]  # (N-2,) for ticks 1 .. N-2
    acc = np.linalg.norm(acts[2:] - 2 * acts[1:-1] + acts[:-2], axis=1) / dt**2  # (N-2,)
    seam = (chunk[1:-1] != chunk[:-2]) | (chunk[2:] != chunk[1:-1])  # (N-2,)
    at, within = acc[ok & seam], acc[ok & ~seam]
    return SeamStats(
        int(np.sum(chunk[1:] != chunk[:-1])),
        int(at.size),
        float(at.max()) if at.size else None,
        float(within.max()) if within.size else None,
        dims,
    )
