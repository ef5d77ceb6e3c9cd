"""The arm's control loop: a thread that, at a fixed rate on absolute deadlines, reads the
joints, samples the commanded trajectory at this instant, passes it through the safety
supervisor and sends it to the arm.

Commands arrive as timestamped waypoints (monotonic seconds), in joint space or as tool poses;
an action chunk is a run of them. Between waypoints, joints and positions are interpolated
linearly and rotations by slerp; before the first the loop holds where the trajectory starts,
after the last it holds the last. New waypoints replace the plan from the present on: the
loop inserts the target it is tracking now as the first point, so a new chunk never makes
the command jump. Tool poses become joints by inverse kinematics seeded with the last command.

`hold()` drops the plan: the arm stays at its last command. With a gripper the loop also
sends its goal (`grip`, when it changes) and reads its closure, so that one thread owns the
bus; after every tick `on_tick` gets what the tick measured and sent (`TickState`). Only the
loop's thread computes kinematics (a plan that starts from the last command takes the pose
the loop stored for it), since `ArmKinematics` is not thread-safe.

A device error of the arm's bus ends the loop (torque off attempted) and is raised by
`check()`. A fault that leaves the bus working (the gripper's servo, `on_tick`) is raised by
`check()` too, but the loop goes on holding the arm at its last command (torque off would
drop an arm that gravity pulls down); the gripper is then left alone.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

from drivers.base import DeviceError
from drivers.clock import next_deadline, sleep_until
from drivers.gripper import Gripper
from drivers.kinematics import ArmKinematics
from drivers.rotations import slerp
from drivers.safety import SafetySupervisor

F64 = NDArray[np.float64]
UNREACHED_M, UNREACHED_RAD = 1e-3, 1e-2  # IK further than this from a target: unreachable


class Arm(Protocol):
    def joints(self) -> F64: ...
    def command(self, q: ArrayLike) -> None: ...
    def torque(self, on: bool) -> None: ...


@dataclass(frozen=True)
class Waypoints:
    times: F64  # (N,) monotonic s, increasing
    values: F64  # (N, J) joints, or (N, 3) tool positions
    rotations: F64 | None = None  # (N, 3, 3) tool rotations, with positions

    def sample(self, t: float) -> tuple[F64, F64 | None]:
        """(value, rotation) at time t: interpolated, held beyond either end."""
        k = int(np.searchsorted(self.times, t, side="right"))
        if k == 0 or k == len(self.times):
            i = 0 if k == 0 else -1
            return self.values[i], None if self.rotations is None else self.rotations[i]
        t0, t1 = self.times[k - 1], self.times[k]
        f = (t - t0) / (t1 - t0)
        value = self.values[k - 1] + f * (self.values[k] - self.values[k - 1])
        if self.rotations is None:
            return value, None
        return value, slerp(self.rotations[k - 1], self.rotations[k], f)


@dataclass(frozen=True)
class TickState:
    """What one tick measured and sent."""

    t: float  # the tick's deadline (monotonic s)
    measured: F64  # (J,) joints read at the tick, rad
    command: F64  # (J,) joints sent (after the supervisor), rad
    gripper_closed: float | None  # measured closure 0 (open) .. 1; None: no gripper
    command_pose: tuple[F64, F64] | None = None  # FK of `command` (position, rotation);
    # None without kinematics (computed once per tick, for the next plan's start too)


@dataclass(frozen=True)
class LoopStats:
    ticks: int
    missed: int  # deadlines passed before the loop could serve them
    unreachable: int  # tool-pose ticks whose target IK could not reach (the closest was used)
    lateness_ms: tuple[float, float]  # p50, p99 of wake-up after each deadline
    clips: dict[str, int]


class ControlLoop:
    def __init__(
        self,
        arm: Arm,
        supervisor: SafetySupervisor,
        rate_hz: float = 100.0,
        kinematics: ArmKinematics | None = None,
        gripper: Gripper | None = None,
        on_tick: Callable[[TickState], None] | None = None,
    ) -> None:
        """`kinematics`: for waypoints given as tool poses; `gripper`: driven and read by the
        loop (on the arm's bus); `on_tick`: called in the loop after every tick."""
        self.arm, self.supervisor, self.kinematics = arm, supervisor, kinematics
        self.gripper, self.on_tick = gripper, on_tick
        self._grip_goal: float | None = None  # set by grip(), sent by the next tick
        self.period = 1.0 / rate_hz
        self.lock = threading.Lock()
        self.plan: Waypoints | None = None
        self.last_q = supervisor.last.copy()
        self._last_pose = None if kinematics is None else kinematics.fk(self.last_q)
        self._grip_sent: float | None = None
        self.lateness: list[float] = []
        self.ticks = self.missed = self.unreachable = 0
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="arm-loop", daemon=True)

    # --- commands (any thread) -------------------------------------------------------------

    def send_joints(self, times: ArrayLike, joints: ArrayLike) -> None:
        """Waypoints (N,) times, (N, J) joint angles."""
        values = np.asarray(joints, float).reshape(-1, len(self.last_q))
        self._merge(np.asarray(times, float), values, None)

    def send_poses(self, times: ArrayLike, positions: ArrayLike, rotations: ArrayLike) -> None:
        """Waypoints (N,) times, (N, 3) tool positions, (N, 3, 3) tool rotations."""
        if self.kinematics is None:
            raise ValueError("this loop has no kinematics for tool poses: send joints")
        rot = np.asarray(rotations, float).reshape(-1, 3, 3)
        self._merge(np.asarray(times, float), np.asarray(positions, float).reshape(-1, 3), rot)

    def hold(self) -> None:
        """Drop the plan: from the next tick the arm holds its last command."""
        with self.lock:
            self.plan = None

    def grip(self, closed: float) -> None:
        """The gripper's goal, 0 (open) to 1 (closed); sent by the next tick."""
        if self.gripper is None:
            raise ValueError("this loop drives no gripper")
        with self.lock:
            self._grip_goal = float(closed)

    def _merge(self, times: F64, values: F64, rotations: F64 | None) -> None:
        if times.ndim != 1 or len(times) != len(values) or not np.all(np.diff(times) > 0):
            raise ValueError("waypoints need one increasing time per value")
        now = time.monotonic()
        keep = times > now
        with self.lock:
            old = self.plan
            if old is None or (old.rotations is None) != (rotations is None):
                # first plan, or a switch between joints and poses: start from where we are
                start_v, start_r = self._here(rotations is not None)
            else:
                start_v, start_r = old.sample(now)
            values = np.concatenate([start_v[None], values[keep]])
            if rotations is not None:
                assert start_r is not None
                rotations = np.concatenate([start_r[None], rotations[keep]])
            self.plan = Waypoints(np.concatenate([[now], times[keep]]), values, rotations)

    def _here(self, pose: bool) -> tuple[F64, F64 | None]:
        """The last command, as joints or as the tool pose the loop stored for it (under
        `lock`)."""
        if not pose:
            return self.last_q.copy(), None
        assert self._last_pose is not None
        return self._last_pose[0].copy(), self._last_pose[1].copy()

    # --- the loop ----------------------------------------------------------------------------

    def start(self) -> ControlLoop:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=2.0)

    def __enter__(self) -> ControlLoop:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def check(self) -> None:
        """Raise the loop's error, if it had one (`running` says whether it still holds)."""
        if self.error is not None:
            raise self.error

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        deadline = time.monotonic()
        try:
            while not self._stop.is_set():
                sleep_until(deadline)
                self.lateness.append(time.monotonic() - deadline)
                self._tick(deadline)
                self.ticks += 1
                deadline, skipped = next_deadline(deadline, self.period)
                self.missed += skipped
        except Exception as err:  # a device error, or a bug: end the loop, torque off
            self.error = err if isinstance(err, DeviceError) else DeviceError(f"arm loop: {err!r}")
            with contextlib.suppress(Exception):  # the bus may be what failed
                self.arm.torque(False)

    def _tick(self, now: float) -> None:
        measured = self.arm.joints()
        with self.lock:
            plan, grip, self._grip_goal = self.plan, self._grip_goal, None
        if plan is None:
            command, t_command = self.last_q, now
        else:
            value, rotation = plan.sample(now)
            if rotation is not None:
                assert self.kinematics is not None
                solution = self.kinematics.ik(value, rotation, seed=self.last_q)
                if not solution.converged(UNREACHED_M, UNREACHED_RAD):
                    self.unreachable += 1  # outside the arm's reach or limits: the closest
                value = solution.q
            command, t_command = value, min(now, float(plan.times[-1]))
        decision = self.supervisor.step(command, t_command, measured, now)
        if decision.torque_off:
            self.error = DeviceError("arm loop: the supervisor's e-stop turned torque off")
            self.arm.torque(False)
            self._stop.set()
            return
        self.arm.command(decision.q)
        pose = None if self.kinematics is None else self.kinematics.fk(decision.q)
        with self.lock:
            self.last_q, self._last_pose = decision.q, pose
        closed = self._gripper(grip)
        if self.on_tick is not None:
            try:
                self.on_tick(TickState(now, measured, decision.q, closed, pose))
            except Exception as err:  # the arm is fine: hold it and say so
                self._fault(DeviceError(f"arm loop: on_tick failed: {err!r}"))
                self.on_tick = None

    def _gripper(self, goal: float | None) -> float | None:
        """Send a changed goal and read the closure; a gripper fault is raised by `check`,
        the gripper left alone from then on (the arm holds)."""
        if self.gripper is None:
            return None
        try:
            if goal is not None and goal != self._grip_sent:
                self.gripper.grip(goal)
                self._grip_sent = goal
            return self.gripper.gripper_closed()
        except DeviceError as err:
            self._fault(DeviceError(f"gripper: {err}"))
            self.gripper = None
            return None

    def _fault(self, error: DeviceError) -> None:
        """A fault the loop survives: raised by `check`, the plan dropped (hold)."""
        self.error = error
        with self.lock:
            self.plan = None

    def stats(self) -> LoopStats:
        late = np.array(self.lateness or [0.0]) * 1000.0
        clips = {c.value: n for c, n in self.supervisor.counts.items()}
        return LoopStats(self.ticks, self.missed, self.unreachable,
                         (float(np.percentile(late, 50)), float(np.percentile(late, 99))),
                         clips)  # fmt: skip
