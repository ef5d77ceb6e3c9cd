"""The safety supervisor between the executor and the sim twin's arm: the one the real arm's
loop uses (`drivers.safety.SafetySupervisor`), on the joints of whatever the task moves.

Each action's target becomes joints, goes through the supervisor with the joints the rig
measures, and comes back as the action the rig takes:
- the 6-DoF arm twin (absolute TCP pose actions, (10,) [xyz, rot6d, width]): joints by IK
  of the shared kinematic description, warm-started from the last command; limits are the
  arm's joint limits;
- the gantry (peg insertion, (4,) [xyz, width]): its joints are the hand's position, so the
  joint limits are the task's workspace and the TCP is the joints themselves.
The gripper width passes unchanged (the task clips it to its range). Limits default to the
task's own (workspace box) and to speeds above what its controller can reach, so that they
bound a faulty command without slowing a sound one; `[run.safety]` tightens them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

import numpy as np
from numpy.typing import NDArray
from pydantic import BaseModel

from drivers.arm_loop import UNREACHED_M, UNREACHED_RAD
from drivers.kinematics import ArmKinematics
from drivers.rotations import matrix_from_rot6d, rot6d_from_matrix
from drivers.safety import Clip, SafetyLimits, SafetySupervisor
from drivers.spec import FieldSpec
from launch.run_plan import SafetySection, Vec3

F32 = NDArray[np.float32]
F64 = NDArray[np.float64]


class JointView(Protocol):
    """What the supervisor needs of a task's actions."""

    joints_key: str  # the observation that measures the joints

    def to_joints(self, action: F32, seed: F64) -> tuple[F64, bool]:
        """The joints of the action's target, and whether they reach it exactly."""
        ...

    def to_action(self, q: F64, action: F32) -> F32: ...
    def tcp(self, q: F64) -> F64: ...


@dataclass(frozen=True)
class Defaults:
    joint_speed: float
    tcp_speed: float
    jump: float


DEFAULTS = {"arm": Defaults(3.0, 0.3, 0.5), "gantry": Defaults(0.3, 0.3, 0.05)}


class ArmView:
    joints_key = "proprio.joints"

    def __init__(self) -> None:
        self.kinematics = ArmKinematics()
        self.limits = self.kinematics.limits  # (6, 2) rad

    def to_joints(self, action: F32, seed: F64) -> tuple[F64, bool]:
        pos, rot = action[:3].astype(np.float64), matrix_from_rot6d(action[3:9].astype(np.float64))
        solution = self.kinematics.ik(pos, rot, seed)
        return solution.q, solution.converged(UNREACHED_M, UNREACHED_RAD)

    def to_action(self, q: F64, action: F32) -> F32:
        pos, rot = self.kinematics.fk(q)
        return np.array([*pos, *rot6d_from_matrix(rot), action[9]], np.float32)

    def tcp(self, q: F64) -> F64:
        return self.kinematics.fk(q)[0]


class GantryView:
    joints_key = "proprio.ee_pos"

    def __init__(self, low: Vec3, high: Vec3) -> None:
        self.limits = np.array([low, high], np.float64).T  # (3, 2) m

    def to_joints(self, action: F32, seed: F64) -> tuple[F64, bool]:
        return action[:3].astype(np.float64), True

    def to_action(self, q: F64, action: F32) -> F32:
        return np.array([*q, action[3]], np.float32)

    def tcp(self, q: F64) -> F64:
        return q


class SupervisedActions:
    """One episode's supervisor over a task's actions (see the module docstring)."""

    def __init__(self, view: ArmView | GantryView, limits: SafetyLimits, measured: F64) -> None:
        self.view = view
        self.supervisor = SafetySupervisor(limits, view.tcp, measured)

    def step(self, action: F32, measured: F64, now: float) -> tuple[F32, tuple[Clip, ...]]:
        """The action to send now (served by the executor for `now`) and why it differs."""
        q, exact = self.view.to_joints(action, self.supervisor.last)
        decision = self.supervisor.step(q, now, measured, now)
        if not decision.clips and exact:
            return action, ()
        # what the supervisor checked is the joints: send their pose (an unreachable target's
        # closest, or the clipped step), never the target itself
        return self.view.to_action(decision.q, action), decision.clips

    @property
    def counts(self) -> dict[str, int]:
        return {clip.value: n for clip, n in self.supervisor.counts.items()}


@dataclass(frozen=True)
class SafetyPlan:
    """How to supervise a task's actions; `start` makes an episode's supervisor."""

    kind: Literal["arm", "gantry"]
    view: ArmView | GantryView
    section: SafetySection
    workspace: tuple[Vec3, Vec3]

    def limits(self, period_s: float) -> SafetyLimits:
        """The supervisor's limits at this control period (ValueError if inconsistent)."""
        d, section, view = DEFAULTS[self.kind], self.section, self.view
        return SafetyLimits(
            tuple(view.limits[:, 0]),
            tuple(view.limits[:, 1]),
            section.workspace_low or self.workspace[0],
            section.workspace_high or self.workspace[1],
            max_joint_speed=section.max_joint_speed or d.joint_speed,
            max_tcp_speed=section.max_tcp_speed or d.tcp_speed,
            max_jump=section.max_jump or d.jump,
            stale_after_s=period_s,
            period_s=period_s,
        )

    def start(self, period_s: float, measured: F64) -> SupervisedActions:
        return SupervisedActions(self.view, self.limits(period_s), measured)


def plan_safety(
    action: FieldSpec,
    observations: dict[str, FieldSpec],
    task_config: BaseModel,
    section: SafetySection,
) -> SafetyPlan:
    """The plan for a task whose action spec is `action` ("abs_pose" (10,): the arm twin;
    "gantry" (4,): peg insertion) and whose observations must measure the joints; its limits
    checked now. ValueError naming the problem for what it cannot supervise."""
    low = getattr(task_config, "workspace_low", None)
    high = getattr(task_config, "workspace_high", None)
    if low is None or high is None:
        raise ValueError(f"{type(task_config).__name__} has no workspace box to supervise")
    workspace = (tuple(low), tuple(high))
    view: ArmView | GantryView
    if action.sensor == "abs_pose" and action.shape == (10,):
        plan = SafetyPlan("arm", ArmView(), section, workspace)
    elif action.sensor == "gantry" and action.shape == (4,):
        view = GantryView(*workspace)
        plan = SafetyPlan("gantry", view, section, workspace)
    else:
        raise ValueError(
            f"the supervisor takes absolute actions (an arm's TCP pose or a gantry's "
            f"position); this task's are {action.sensor!r} {action.shape}: set "
            "task.params.action_mode = 'abs_pose'"
        )
    key, joints = plan.view.joints_key, len(plan.view.limits)
    if key not in observations or observations[key].shape != (joints,):
        raise ValueError(
            f"the supervisor measures the joints from {key} ({joints},), which this task "
            "does not observe"
        )
    plan.limits(0.1)  # refuse limits that contradict each other before anything moves
    return plan
