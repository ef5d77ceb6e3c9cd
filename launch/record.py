"""`vitac record`: demonstrations recorded in real time, the way a real rig records them.

Every stream goes through capture threads, ring buffers and the aligner as in `vitac run`;
at the task's control rate each tick stores every stream's newest frame (the action among
them) into the episode store. The source of the actions is the task's scripted expert
driving the sim twin (`SimRig(expert=...)`), or the operator at the keyboard
or a SpaceMouse (launch/teleop.py) through the safety supervisor, on the sim twin or a
real rig. An episode ends when the task says so, at the time limit, on
the operator's key (s stop, r re-record, q abort) or when a stream stops (kept, naming it).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from drivers.base import DeviceError
from drivers.clock import next_deadline, sleep_until
from drivers.spacemouse import SpaceMouse
from launch.action_safety import SafetyPlan
from launch.keyboard import EpisodeKeys, Key
from launch.realtime import OPERATOR_ENDS
from launch.rig_streams import Rig, RigStreams
from launch.teleop import GRIPPER_KEY, Teleop, pose_key
from sensing.store import EpisodeWriter
from sim.rig import ACTION_KEY


@dataclass(frozen=True)
class Recorded:
    seed: int
    ended: str
    success: bool
    steps: int  # stored (0 when re-recorded)


def record_episode(
    rig: Rig,
    streams: RigStreams,
    writer: EpisodeWriter,
    seed: int,
    max_seconds: float,
    keys: EpisodeKeys | None = None,
    task: str = "",
    stop: tuple[str, float] | None = None,
    safety: SafetyPlan | None = None,
    spacemouse: SpaceMouse | None = None,
) -> Recorded:
    """One demonstration into `writer` (committed unless re-recorded); `stop`: (stream,
    seconds after the reset) stops that stream's device, on purpose (tests). With `safety`
    the operator teleoperates from `keys` and `spacemouse` (launch/teleop.py): each tick the
    target goes through the supervisor to the rig and is recorded as the action; without,
    the rig's scripted expert acts and its action is one of the streams."""
    t_reset = time.monotonic()
    rig.begin(seed, stop)
    streams.wait_first_frames(t_reset)
    try:
        operator = None if safety is None else _Operator(rig, streams, safety, keys, spacemouse)
    except BaseException:
        rig.end()
        raise
    t_start = deadline = time.monotonic()
    ended = ""
    while not ended:
        sleep_until(deadline)
        now = time.monotonic()
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
            frame = streams.observe(now)
            if operator is not None:
                frame[ACTION_KEY] = operator.act(frame, now)
            writer.add(frame, timestamp=now - t_start)
        except DeviceError as err:
            rig.hold()
            ended = f"device: {err}"
        deadline, _ = next_deadline(deadline, rig.period)
    record = rig.end()
    if ended == OPERATOR_ENDS[Key.RERECORD] or writer.n_steps == 0:
        writer.discard()
        return Recorded(seed, ended, record.success, 0)
    steps = writer.n_steps
    writer.commit(success=record.success, seed=seed, task=task, rig=rig.kind, notes=ended)
    return Recorded(seed, ended, record.success, steps)


class _Operator:
    """Teleoperation for one episode: the target from the keys or a SpaceMouse, supervised."""

    def __init__(
        self,
        rig: Rig,
        streams: RigStreams,
        safety: SafetyPlan,
        keys: EpisodeKeys | None,
        spacemouse: SpaceMouse | None,
    ) -> None:
        if spacemouse is None and (keys is None or not keys.interactive):
            raise DeviceError("keyboard teleoperation needs a terminal to read keys from")
        pose = pose_key(set(streams.buffers))
        width = float(streams.latest(GRIPPER_KEY)[0])
        self.rig, self.keys, self.joints = rig, keys, safety.view.joints_key
        self.spacemouse, self.buttons = spacemouse, 0
        self.teleop = Teleop(streams.latest(pose), width)
        self.guard = safety.start(rig.period, streams.latest(self.joints))

    def act(self, frame: dict[str, np.ndarray], now: float) -> np.ndarray:
        """The action for this tick (sent to the rig), after every key typed since the last
        and a period of the SpaceMouse's motion."""
        while self.keys is not None and (char := self.keys.poll_char()) is not None:
            self.teleop.press(char)
        if self.spacemouse is not None:
            motion = self.spacemouse.motion()
            self.teleop.drive(motion.translation, motion.rotation, self.rig.period)
            if motion.buttons & ~self.buttons & 1:  # the left button pressed: close/open
                self.teleop.press("g")
            self.buttons = motion.buttons
        measured = frame[self.joints].astype(np.float64)
        sent, clips = self.guard.step(self.teleop.action(), measured, now)
        if clips:  # the target left what is allowed: go on from what was sent instead
            self.teleop.target = sent[:-1].copy()
        self.rig.command(sent, now)
        return sent
