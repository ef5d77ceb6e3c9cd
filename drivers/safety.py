"""The safety supervisor: between every command source (policy, teleoperation, a named pose)
and the arm, it turns each tick's joint command into one that breaks no limit.

Per tick of period dt, from the command, the measured joints and the last command it let
through ("last"):

1. a command that is missing, not finite, of the wrong shape or older than `stale_after_s`
   is replaced by last (hold);
2. joint limits: the command is clipped into them;
3. per joint, the command must lie within `max_joint_speed` x dt of last and within
   `max_jump` of the measured joint. When no value does (the arm is further from last than
   that: blocked, pushed, or torque lost), the supervisor holds the arm where it is: the
   measured joints, clipped into the limits, are sent ("diverged");
4. the tool centre point (forward kinematics) must stay in the workspace box, or, if last
   left it outside, get no further from it, and move at most `max_tcp_speed` x dt from
   last's. Otherwise the step from last toward the command is shortened until it does.

Every change is counted by reason. After `estop()` every tick says torque off.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

import numpy as np
from numpy.typing import ArrayLike, NDArray

F64 = NDArray[np.float64]
BISECTIONS = 12  # a shortened step is within 2^-12 of the longest safe one found
# rad or m a step may exceed a speed limit by as rounding (a plan sampled at exactly the limit
# lands within ~1e-17 of it either side): sent as asked, not counted as a clip
SLACK = 1e-12


class Clip(StrEnum):
    INVALID = "invalid"  # missing, not finite or the wrong shape: held
    STALE = "stale"  # older than stale_after_s: held
    JOINT_LIMIT = "joint_limit"
    JOINT_SPEED = "joint_speed"
    JUMP = "jump"  # too far from the measured joints
    DIVERGED = "diverged"  # measured too far from last: holding where the arm is
    WORKSPACE = "workspace"
    TCP_SPEED = "tcp_speed"


@dataclass(frozen=True)
class SafetyLimits:
    joint_low: tuple[float, ...]  # rad, one per joint
    joint_high: tuple[float, ...]
    workspace_low: tuple[float, float, float]  # m, the TCP's box in the arm's base frame
    workspace_high: tuple[float, float, float]
    max_joint_speed: float = 1.0  # rad/s, every joint
    max_tcp_speed: float = 0.25  # m/s
    max_jump: float = 0.3  # rad between the command and the measured joint
    stale_after_s: float = 0.1
    period_s: float = 0.01

    def __post_init__(self) -> None:
        low, high = np.array(self.joint_low), np.array(self.joint_high)
        if low.shape != high.shape or not np.all(low < high):
            raise ValueError(f"joint limits: low {self.joint_low} must be below high "
                             f"{self.joint_high}, one pair per joint")  # fmt: skip
        if not np.all(np.array(self.workspace_low) < np.array(self.workspace_high)):
            raise ValueError(f"workspace box: {self.workspace_low} must be below "
                             f"{self.workspace_high} on every axis")  # fmt: skip
        rates = (self.max_joint_speed, self.max_tcp_speed, self.max_jump, self.stale_after_s,
                 self.period_s)  # fmt: skip
        if min(rates) <= 0:
            raise ValueError("speed, jump, staleness and period limits must be positive")


@dataclass(frozen=True)
class Decision:
    q: F64  # (J,) the joint command to send (rad)
    clips: tuple[Clip, ...]  # why it differs from what was asked (empty: it does not)
    torque_off: bool = False  # e-stop: send nothing, turn torque off


class SafetySupervisor:
    def __init__(
        self, limits: SafetyLimits, tcp: Callable[[F64], F64], measured: ArrayLike
    ) -> None:
        """`tcp`: joints (J,) -> TCP position (3,) in metres (forward kinematics).
        `measured`: the arm's joints when the supervisor takes over."""
        self.limits = limits
        self.tcp = tcp
        self.low, self.high = np.array(limits.joint_low), np.array(limits.joint_high)
        self.box_low, self.box_high = (
            np.array(limits.workspace_low),
            np.array(limits.workspace_high),
        )
        start = np.asarray(measured, dtype=np.float64)
        if start.shape != self.low.shape or not np.all(np.isfinite(start)):
            raise ValueError(f"measured joints {start}: expected {self.low.size} finite values")
        outside = np.flatnonzero((start < self.low) | (start > self.high))
        if outside.size:
            raise ValueError(
                f"joints {outside.tolist()} are outside their limits ({start[outside]} rad, "
                f"limits {self.low[outside]} .. {self.high[outside]}): move the arm inside "
                "them by hand before starting"
            )
        self.last = start
        self.last_tcp = tcp(start)
        self.counts: Counter[Clip] = Counter()
        self.estopped = False

    def estop(self) -> None:
        self.estopped = True

    def step(
        self, command: ArrayLike | None, t_command: float, measured: ArrayLike, now: float
    ) -> Decision:
        if self.estopped:
            return Decision(self.last, (), torque_off=True)
        lim = self.limits
        meas = np.asarray(measured, dtype=np.float64)
        clips: list[Clip] = []
        if meas.shape != self.low.shape or not np.all(np.isfinite(meas)):
            return self._hold(meas, clips)
        cmd = self._valid(command)
        if cmd is None:
            cmd, clips = self.last, [Clip.INVALID]
        elif now - t_command > lim.stale_after_s:
            cmd, clips = self.last, [Clip.STALE]
        target = np.clip(cmd, self.low, self.high)
        if not np.array_equal(target, cmd):
            clips.append(Clip.JOINT_LIMIT)
        speed = lim.max_joint_speed * lim.period_s + SLACK
        lo = np.maximum.reduce([self.low, self.last - speed, meas - lim.max_jump])
        hi = np.minimum.reduce([self.high, self.last + speed, meas + lim.max_jump])
        if np.any(lo > hi):
            return self._hold(meas, clips)
        windowed = np.clip(target, lo, hi)
        if np.any(np.abs(target - self.last) > speed):
            clips.append(Clip.JOINT_SPEED)
        if np.any(np.abs(target - meas) > lim.max_jump):
            clips.append(Clip.JUMP)
        anchor = np.clip(self.last, lo, hi)  # last itself unless it left the jump window
        if self._tcp_problem(anchor):
            return self._hold(meas, clips)
        out = windowed
        if problem := self._tcp_problem(windowed):
            clips.append(problem)
            ok, bad = 0.0, 1.0  # fractions of the step from anchor: safe, not safe
            for _ in range(BISECTIONS):
                mid = (ok + bad) / 2
                if self._tcp_problem(anchor + mid * (windowed - anchor)):
                    bad = mid
                else:
                    ok = mid
            out = anchor + ok * (windowed - anchor)
        return self._send(out, clips)

    def _valid(self, command: ArrayLike | None) -> F64 | None:
        if command is None:
            return None
        try:
            q = np.asarray(command, dtype=np.float64)
        except (TypeError, ValueError):
            return None
        return q if q.shape == self.low.shape and np.all(np.isfinite(q)) else None

    def _tcp_problem(self, q: F64) -> Clip | None:
        """Why TCP at joints q breaks a rule relative to last's (None: it does not)."""
        p = self.tcp(q)
        allowed = _distance_outside(self.last_tcp, self.box_low, self.box_high)  # 0 inside
        if _distance_outside(p, self.box_low, self.box_high) > allowed + 1e-12:
            return Clip.WORKSPACE
        step = self.limits.max_tcp_speed * self.limits.period_s + SLACK
        if np.linalg.norm(p - self.last_tcp) > step:
            return Clip.TCP_SPEED
        return None

    def _hold(self, meas: F64, clips: list[Clip]) -> Decision:
        """Command the arm where it is (no motion), or, with no usable measurement, where it
        was last commanded."""
        usable = meas.shape == self.low.shape and np.all(np.isfinite(meas))
        here = np.clip(meas, self.low, self.high) if usable else self.last
        return self._send(here, [*clips, Clip.DIVERGED])

    def _send(self, q: F64, clips: list[Clip]) -> Decision:
        self.counts.update(clips)
        self.last = q
        self.last_tcp = self.tcp(q)
        return Decision(q.copy(), tuple(dict.fromkeys(clips)))


def _distance_outside(p: F64, low: F64, high: F64) -> float:
    """How far point p (3,) lies outside the box (0 inside)."""
    return float(np.linalg.norm(np.maximum(low - p, 0.0) + np.maximum(p - high, 0.0)))
