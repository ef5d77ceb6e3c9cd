"""Scripted experts: privileged-state controllers that produce demonstrations.

An expert is built from an env (wrapped or not), has `reset(seed)` and `act(obs) -> action`
(`obs`: the observation the env returned last), and returns actions in the env's own action
format, so a policy can imitate them directly. The experts here read privileged state and
ignore `obs`; `sim.touch_expert.TouchInsertionExpert` acts on `obs` alone.

`EXPERTS` maps a task name of `sim.TASKS` to its expert class.

DART-style data diversity: record `act()` (the clean label) in the dataset and execute
`perturb(action)` (the label plus Gaussian noise of `noise_std` metres on x, y, z). Because the
expert reads the state afresh every step, its next label corrects the perturbation.
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import gymnasium as gym
import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import top_down_rotation
from sim.expert_base import ExpertFactory, Obs, ScriptedExpert, tcp_yaw, wrap_half_turn
from sim.tasks.arm_env import ArmTaskEnv
from sim.tasks.lift import CubeTaskEnv, LiftEnv
from sim.tasks.peg_insertion import PegInsertionEnv
from sim.tasks.stack import StackEnv
from sim.tasks.tactile_insertion import TactileInsertionEnv
from sim.touch_expert import TouchInsertionExpert

ArmEnvT = TypeVar("ArmEnvT", bound=ArmTaskEnv)


class PegInsertionExpert(ScriptedExpert[PegInsertionEnv]):
    """Move above the socket (correcting for the peg's offset in the grasp), descend, push in.

    Each step the hand target moves towards a goal by at most `speed` (`descend_speed` once the
    peg is over the hole), so moves are straight lines at constant speed that slow only in the
    last step. The goal is the hover point (peg bottom `hover_m` above the rim, over the hole)
    until the peg is within `align_frac` times the clearance of the hole's axis, then the point
    `insert_m` below the rim. The gripper keeps squeezing (width 0).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        noise_std: float = 0.0,
        speed: float = 0.006,
        descend_speed: float = 0.004,
        hover_m: float = 0.01,
        insert_m: float = 0.022,
        align_frac: float = 0.5,
    ) -> None:
        super().__init__(env, PegInsertionEnv, noise_std)
        self.speed, self.descend_speed = speed, descend_speed
        self.hover_m, self.insert_m, self.align_frac = hover_m, insert_m, align_frac

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]:
        """The clean expert action [x, y, z, width] for the env's current state."""
        s = self.env.privileged_state()
        hand, rim = s["hand_pos"], float(s["socket_rim_z"][0])
        bottom = float(s["peg_bottom_z"][0])
        goal_xy = s["socket_xy"] - s["grasp_offset"][:2]  # hand xy that centres the peg
        tolerance = self.align_frac * float(s["clearance"][0])
        aligned = float(np.max(np.abs(goal_xy - hand[:2]))) <= tolerance
        entered = bottom < rim  # already in the hole: keep pushing
        descending = aligned or entered
        goal_bottom = rim - self.insert_m if descending else rim + self.hover_m
        goal = np.array([*goal_xy, hand[2] + goal_bottom - bottom])
        step = goal - hand
        limit = self.descend_speed if descending else self.speed
        dist = float(np.linalg.norm(step))
        if dist > limit:
            step *= limit / dist
        return np.array([*(hand + step), 0.0], dtype=np.float32)


class ArmExpert(ScriptedExpert[ArmEnvT]):
    """Shared mechanics of the arm-task experts: straight TCP moves at bounded speed.

    Subclasses implement `act()` with privileged state and express targets as TCP poses; the
    env turns a pose into an action in its configured mode (absolute or delta).
    """

    def move(
        self, goal: NDArray[np.float64], yaw: float, width: float, speed: float
    ) -> NDArray[np.float32]:
        """Action moving the commanded TCP towards `goal` by at most `speed` metres, top-down."""
        start = self.env.command_position
        step = goal - start
        dist = float(np.linalg.norm(step))
        if dist > speed:
            step *= speed / dist
        return self.env.pose_action(start + step, top_down_rotation(yaw), width)


class TactileInsertionExpert(ArmExpert[TactileInsertionEnv]):
    """Approach the socket where vision puts it, feel the rim, correct, insert.

    1. Move the part over the *estimated* socket position (`socket_estimate_xy`, a few mm off)
       with the part's pins aligned to the socket's yaw, pin tips `hover_m` above the rim.
    2. Descend slowly. If the housing presses on the rim (part-socket force above
       `contact_force_n` before it has entered the cavity), it has felt the error: with
       `feel=True` it lifts the pin tips `lift_m` above the rim, moves over the true socket
       position and descends again; with `feel=False` it keeps pushing where it is, the
       open-loop baseline that shows why touch is needed.
    3. Once the housing is in the cavity, push on to `push_m` below the success depth; the
       TCP is never commanded more than `push_m` below where it is (a compliant push).
    Lateral moves servo the part's measured position (in the grasp it is not where the TCP is).
    """

    def __init__(
        self,
        env: gym.Env[Any, Any],
        noise_std: float = 0.0,
        feel: bool = True,
        speed: float = 0.01,
        descend_speed: float = 0.002,
        hover_m: float = 0.003,
        lift_m: float = 0.001,
        push_m: float = 0.002,
        contact_force_n: float = 1.0,
        align_tol_m: float = 0.0002,
    ) -> None:
        super().__init__(env, TactileInsertionEnv, noise_std)
        self.feel, self.speed, self.descend_speed = feel, speed, descend_speed
        self.hover_m, self.lift_m, self.push_m = hover_m, lift_m, push_m
        self.contact_force_n, self.align_tol_m = contact_force_n, align_tol_m
        self._goal_xy: NDArray[np.float64] | None = None
        self._phase = "approach"
        self.corrections = 0
        self._decision: NDArray[np.float64] | None = None

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._goal_xy, self._phase, self.corrections = None, "approach", 0
        self._decision = None

    def decision(self) -> NDArray[np.float64] | None:
        """The correction decided at the last `act()`, else None: the change of the xy goal.

        Set at the step that switches to phase "correct": new goal minus old goal (the true
        socket minus the estimate), in the TCP frame's x and y axes, metres, shape (2,).
        """
        return None if self._decision is None else self._decision.copy()

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]:
        self._decision = None
        s = self.env.privileged_state()
        rim = float(s["socket_rim_z"][0])
        bottom = float(s["part_bottom_z"][0])
        if self._goal_xy is None:
            self._goal_xy = s["socket_estimate_xy"].copy()
        entered = bottom < rim - 0.0005
        felt = not entered and float(s["socket_contact_force"][0]) > self.contact_force_n
        if felt and self.feel and self._phase == "descend":
            change = np.array([*(s["socket_xy"] - self._goal_xy), 0.0])
            self._decision = (self.env.tcp_pose()[1].T @ change)[:2]  # world -> TCP frame
            self._phase, self._goal_xy = "correct", s["socket_xy"].copy()
            self.corrections += 1
        # Servo the part, not the TCP: keep the part's offset in the grasp as it is measured now.
        tcp = s["tcp_pos"]
        xy_error = self._goal_xy - s["part_pos"][:2]
        aligned = float(np.max(np.abs(xy_error))) <= self.align_tol_m
        target_xy = self._goal_xy + (tcp[:2] - s["part_pos"][:2])
        yaw = float(s["socket_yaw"][0]) + wrap_half_turn(
            tcp_yaw(s["tcp_rot"]) - float(s["part_yaw"][0])
        )
        cmd = s["command_pos"]
        tcp_minus_bottom = cmd[2] - bottom  # TCP height above the housing bottom
        if self._phase in ("approach", "correct"):
            clear = rim + self.env.variant.pin_length  # pin tips level with the rim
            goal_bottom = clear + (self.hover_m if self._phase == "approach" else self.lift_m)
            goal = np.array([*target_xy, goal_bottom + tcp_minus_bottom])
            if self._phase == "correct" and bottom < goal_bottom - 0.0005:
                goal[:2] = cmd[:2]  # lift first, then move sideways
            near = abs(bottom - goal_bottom) < 0.001 and aligned
            if near:
                self._phase = "descend"
            return self.move(goal, yaw, 0.0, self.speed)
        depth = float(self.env.config.success_depth_mm) / 1000.0
        goal_bottom = rim - depth - self.push_m
        # push compliantly: never command the TCP more than `push_m` below where it is
        goal_z = max(goal_bottom + tcp_minus_bottom, float(tcp[2]) - self.push_m)
        goal = np.array([*target_xy, goal_z])
        near_rim = bottom < rim + self.env.variant.pin_length + 0.002
        return self.move(goal, yaw, 0.0, self.descend_speed / 2 if near_rim else self.descend_speed)


class PickExpert(ArmExpert[CubeTaskEnv]):
    """Top-down pick of the task's cube: above it, down, close, lift (`vitac/Lift-v0`).

    The grasp yaw is the cube's yaw plus the multiple of 90 degrees closest to the gripper's,
    the gripper opens `open_margin_m` wider than the cube, and each phase ends when the
    measured TCP is within `tolerance_m` of its goal (closing ends after `close_steps`).
    """

    env_type: ClassVar[type[CubeTaskEnv]] = LiftEnv

    def __init__(
        self,
        env: gym.Env[Any, Any],
        noise_std: float = 0.0,
        speed: float = 0.015,
        approach_speed: float = 0.008,
        hover_m: float = 0.04,
        open_margin_m: float = 0.025,
        close_steps: int = 4,
        tolerance_m: float = 0.003,
        lift_m: float = 0.09,
    ) -> None:
        super().__init__(env, self.env_type, noise_std)
        self.speed, self.approach_speed, self.hover_m = speed, approach_speed, hover_m
        self.open_margin_m, self.close_steps, self.tolerance_m = (
            open_margin_m,
            close_steps,
            tolerance_m,
        )
        self.lift_m = lift_m
        self._phase, self._count, self._yaw = "above", 0, 0.0

    def reset(self, seed: int | None = None) -> None:
        super().reset(seed)
        self._phase, self._count, self._yaw = "above", 0, 0.0

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]:
        s = self.env.privileged_state()
        return self.pick(s)

    def pick(self, s: dict[str, NDArray[np.float64]]) -> NDArray[np.float32]:
        """Phases above -> down -> close -> lift; returns the action of the current phase."""
        cube, half = s["cube_pos"], float(s["cube_half"][0])
        if self._phase == "above":
            self._yaw = grasp_yaw(float(s["cube_yaw"][0]), tcp_yaw(s["tcp_rot"]))
        width_open = 2 * half + self.open_margin_m
        grasp_z = max(float(cube[2]), 0.016)
        if self._phase == "above":
            goal = np.array([*cube[:2], 2 * half + self.hover_m])
            return self._go(s, goal, width_open, self.speed, next_phase="down")
        if self._phase == "down":
            goal = np.array([*cube[:2], grasp_z])
            return self._go(s, goal, width_open, self.approach_speed, next_phase="close")
        if self._phase == "close":
            self._count += 1
            if self._count >= self.close_steps:
                self._phase = "lift"
            return self.move(s["command_pos"], self._yaw, 0.0, self.speed)
        goal = np.array([*s["command_pos"][:2], grasp_z + self.lift_m])
        return self.move(goal, self._yaw, 0.0, self.approach_speed)

    def _go(
        self,
        s: dict[str, NDArray[np.float64]],
        goal: NDArray[np.float64],
        width: float,
        speed: float,
        next_phase: str,
    ) -> NDArray[np.float32]:
        if float(np.linalg.norm(s["tcp_pos"] - goal)) <= self.tolerance_m:
            self._phase, self._count = next_phase, 0
        return self.move(goal, self._yaw, width, speed)


class StackExpert(PickExpert):
    """Pick the red cube (as `PickExpert`), carry it over the green one, lower, let go, retreat."""

    env_type: ClassVar[type[CubeTaskEnv]] = StackEnv

    def __init__(self, env: gym.Env[Any, Any], noise_std: float = 0.0, **kwargs: Any) -> None:
        super().__init__(env, noise_std, **kwargs)
        self.lift_m = 0.08

    def act(self, obs: Obs | None = None) -> NDArray[np.float32]:
        s = self.env.privileged_state()
        half, target, target_half = (
            float(s["cube_half"][0]),
            s["target_pos"],
            float(s["target_half"][0]),
        )
        # TCP height that puts the cube's bottom `gap` above the green top (cube as grasped)
        grasp_drop = float(s["tcp_pos"][2] - s["cube_pos"][2])
        target_top = float(target[2]) + target_half

        def tcp_z(gap: float) -> float:
            return target_top + gap + half + grasp_drop

        if self._phase in ("above", "down", "close"):
            return self.pick(s)
        if self._phase == "lift":
            if float(s["cube_pos"][2]) - half > target_top + 0.02:
                self._phase = "carry"
            return self.pick(s)
        width_open = 2 * half + self.open_margin_m
        if self._phase == "carry":
            goal = np.array([*target[:2], tcp_z(0.02)])
            return self._go(s, goal, 0.0, self.speed, next_phase="lower")
        if self._phase == "lower":
            goal = np.array([*target[:2], tcp_z(0.002)])
            return self._go(s, goal, 0.0, self.approach_speed, next_phase="release")
        if self._phase == "release":
            self._count += 1
            if self._count >= self.close_steps:
                self._phase = "retreat"
            return self.move(s["command_pos"], self._yaw, width_open, self.speed)
        goal = np.array([*s["command_pos"][:2], target_top + 0.08])
        return self.move(goal, self._yaw, width_open, self.approach_speed)


def grasp_yaw(cube_yaw: float, current: float) -> float:
    """The cube's yaw plus the multiple of 90 degrees nearest to `current`."""
    quarter = np.pi / 2
    return float(cube_yaw + quarter * np.round((current - cube_yaw) / quarter))


EXPERTS: dict[str, ExpertFactory] = {
    "peg_insertion": PegInsertionExpert,
    "tactile_insertion": TouchInsertionExpert,  # observation-honest: images, proprio, estimate
    "lift": PickExpert,
    "stack": StackExpert,
}


# A named scripted variant of a task's expert: the expert class and the keyword arguments it
# is built with (`factory(env, **kwargs)`).
ExpertVariant = tuple[ExpertFactory, dict[str, Any]]

# The name of a task's default expert (`EXPERTS`) wherever a variant is named, so a launch
# file whose default is a variant can ask for the default back (`collect.expert`).
DEFAULT_EXPERT = "default"

# Scripted variants beyond the task's default expert (`EXPERTS`), by task and variant name,
# for the baselines `vitac task report` measures next to the default expert and zero motion.
EXPERT_VARIANTS: dict[str, dict[str, ExpertVariant]] = {
    "tactile_insertion": {
        # corrects with the privileged socket position and contact force: a ceiling
        "oracle": (TactileInsertionExpert, {"feel": True}),
        # the default expert, searching by contact alone (the images are not read)
        "blind": (TouchInsertionExpert, {"read": False}),
        # the default expert deciding each move from the current press alone (no belief kept)
        "memoryless": (TouchInsertionExpert, {"memory": False}),
        # the default expert with no correction: keeps pressing at the socket estimate
        "open_loop": (TouchInsertionExpert, {"correct": False}),
    },
}


def expert_for(task: str | None, variant: str | None = None, label: str = "") -> ExpertVariant:
    """The task's default expert (`variant` None or `DEFAULT_EXPERT`) or its named variant,
    with its arguments.

    ValueError naming what exists otherwise; `label` names the task in it (default: `task`).
    """
    label = label or repr(task)
    if variant is not None and variant != DEFAULT_EXPERT:
        variants = EXPERT_VARIANTS.get(task or "", {})
        if variant not in variants:
            available = sorted([DEFAULT_EXPERT, *variants])
            raise ValueError(f"no expert variant {variant!r} for {label}; available: {available}")
        return variants[variant]
    if task is None or task not in EXPERTS:
        raise ValueError(f"no scripted expert for {label}; tasks with one: {sorted(EXPERTS)}")
    return EXPERTS[task], {}
