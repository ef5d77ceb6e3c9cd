"""Every stream of a rig on its way to the loop: a capture thread per device moves its frames
into a ring buffer, and a watchdog aligner says, at any instant, whether every stream is
fresh (what `vitac run` and `vitac record` share); and `Rig`, what those loops drive: the
sim twin (sim/rig.py) or a real rig (launch/real_rig.py)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from drivers.base import Camera, DeviceError
from drivers.spec import FieldSpec
from sensing.aligner import Aligner
from sensing.capture import CaptureThread
from sensing.ring_buffer import RingBuffer
from sim.rig import StepRecord

RING_FRAMES = 32  # per stream: the policy's window and a recorder's tick with room to spare
FIRST_FRAME_S = 10.0  # how long an episode waits for every stream's first frame


class Rig(Protocol):
    """A rig in wall-clock time: its streams (one device per observation key), the layout
    of its observations and actions, and the arm's commands."""

    kind: str  # "sim" or "real"
    period: float  # s, the task's control period

    @property
    def streams(self) -> Mapping[str, Camera]: ...
    @property
    def observation_spec(self) -> Mapping[str, FieldSpec]: ...
    @property
    def action_spec(self) -> Mapping[str, FieldSpec]: ...
    @property
    def record(self) -> StepRecord:
        """The episode so far: success and its end, where the rig can tell."""
        ...

    def begin(self, seed: int, stop: tuple[str, float] | None = None) -> None:
        """Start an episode; `stop`: (stream, s) a device that stops (the sim's fault)."""
        ...

    def command(self, action: NDArray[np.float32], t: float) -> None:
        """The action for the step at or after monotonic time t (newest wins)."""
        ...

    def hold(self) -> None: ...
    def end(self) -> StepRecord: ...
    def check(self) -> None:
        """Raise the rig's device error, if one happened."""
        ...

    def close(self) -> None: ...


class RigStreams:
    def __init__(
        self,
        devices: Mapping[str, Camera],
        specs: Mapping[str, FieldSpec],
        max_age_s: Mapping[str, float],
    ) -> None:
        """`devices` by key (connected), their frames' `specs`, and how old each stream's
        newest frame may be before it counts as stopped."""
        self.buffers: dict[str, RingBuffer] = {}
        self.captures: list[CaptureThread] = []
        try:
            for k in devices:
                self.buffers[k] = RingBuffer.create(RING_FRAMES, specs[k].shape, specs[k].dtype)
            self.max_age_s = {k: float(max_age_s[k]) for k in devices}
            self.watchdog = Aligner(self.buffers, self.max_age_s)
            for k, buffer in self.buffers.items():
                self.captures.append(CaptureThread(k, devices[k], buffer, poll_s=0.05).start())
        except BaseException:  # nothing left behind: no thread, no shared memory
            self.close()
            raise

    def aligner(self, keys: Iterable[str]) -> Aligner:
        """An aligner over some of the streams (a policy's inputs), with their ages."""
        keys = list(keys)
        return Aligner({k: self.buffers[k] for k in keys}, {k: self.max_age_s[k] for k in keys})

    def observe(self, now: float) -> dict[str, np.ndarray]:
        """Every stream's newest frame at `now`; a DeviceError when a capture failed or a
        stream is stale or missing (naming it)."""
        for capture in self.captures:
            capture.check()
        return {k: v[0] for k, v in self.watchdog.observe([now]).frames.items()}

    def latest(self, key: str) -> np.ndarray:
        return self.buffers[key].latest(1)[0].image

    def wait_first_frames(self, since: float) -> float:
        """Wait until every stream delivered a frame captured after `since` (a reset); the
        newest of those first frames' capture times: the episode's first instant."""
        end = time.monotonic() + FIRST_FRAME_S
        while True:
            newest = {k: b.latest(1) for k, b in self.buffers.items()}
            missing = [k for k, f in newest.items() if not f or f[-1].t_capture < since]
            if not missing:
                return max(f[-1].t_capture for f in newest.values())
            if time.monotonic() > end:
                raise DeviceError(f"{missing}: no frame within {FIRST_FRAME_S:.0f} s of the start")
            time.sleep(0.002)

    def dropped_frames(self) -> int:
        return sum(c.stats().dropped for c in self.captures)

    def close(self) -> None:
        for capture in self.captures:
            capture.stop()
        for buffer in self.buffers.values():
            buffer.close()
            buffer.unlink()
