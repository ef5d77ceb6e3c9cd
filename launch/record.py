"""`vitac record`: demonstrations recorded in real time, the way a real rig records them.

Every stream goes through capture threads, ring buffers and the aligner as in `vitac run`;
at the task's control rate each tick stores every stream's newest frame (the action among
them) into the episode store. The source of the actions today is the task's scripted expert
driving the sim twin (`SimRig(expert=...)`); keyboard and SpaceMouse teleoperation of a
real arm are not built yet. An episode ends when the task says so, at the time limit, on the
operator's key (s stop, r re-record, q abort) or when a stream stops (kept, naming it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from drivers.base import DeviceError
from drivers.clock import sleep_until
from launch.keyboard import EpisodeKeys, Key
from launch.realtime import OPERATOR_ENDS
from launch.rig_streams import RigStreams
from sensing.store import EpisodeWriter
from sim.rig import SimRig


@dataclass(frozen=True)
class Recorded:
    seed: int
    ended: str
    success: bool
    steps: int  # stored (0 when re-recorded)


def record_episode(
    rig: SimRig,
    streams: RigStreams,
    writer: EpisodeWriter,
    seed: int,
    max_seconds: float,
    keys: EpisodeKeys | None = None,
    task: str = "",
    stop: tuple[str, float] | None = None,
) -> Recorded:
    """One demonstration into `writer` (committed unless re-recorded); `stop`: (stream,
    seconds into the episode) stops that stream's device, on purpose (tests)."""
    t_reset = time.monotonic()
    rig.begin(seed)
    streams.wait_first_frames(t_reset)
    t_start = deadline = time.monotonic()
    ended = ""
    while not ended:
        sleep_until(deadline)
        now = time.monotonic()
        if stop is not None and now - t_start >= stop[1]:
            rig.streams[stop[0]].stop()
        key = keys.poll() if keys is not None else None
        if key in OPERATOR_ENDS:
            ended = OPERATOR_ENDS[key]
            break
        if rig.record.done:
            ended = "success" if rig.record.success else "task ended"
            break
        if now - t_start >= max_seconds:
            ended = "time limit"
            break
        try:
            rig.check()
            writer.add(streams.observe(now), timestamp=now - t_start)
        except DeviceError as err:
            ended = f"device: {err}"
        deadline = max(deadline + rig.period, time.monotonic())  # never burst to catch up
    record = rig.end()
    if ended == OPERATOR_ENDS[Key.RERECORD] or writer.n_steps == 0:
        writer.discard()
        return Recorded(seed, ended, record.success, 0)
    steps = writer.n_steps
    writer.commit(success=record.success, seed=seed, task=task, rig="sim", notes=ended)
    return Recorded(seed, ended, record.success, steps)
