"""`vitac/Lift-v0`: pick a cube up from the table (a vision-centred benchmark task).

The cube lands at a random position and yaw in front of the arm; the gripper starts open above
the workspace. Success: the cube's bottom is `lift_height_m` above the table while it is held
between the pads (both pads touching it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import mujoco
import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from drivers.kinematics import named_id, top_down_rotation
from drivers.rotations import quat_from_yaw
from sim.tasks.arm_config import ArmTaskConfig
from sim.tasks.arm_env import ArmTaskEnv

F64 = NDArray[np.float64]


class CubeTaskConfig(ArmTaskConfig):
    """Settings of the cube tasks (besides the rig's, see `ArmTaskConfig`)."""

    cube_size_mm: float = Field(default=35.0, ge=20.0, le=55.0)  # edge of the picked cube
    cube_range_m: float = Field(default=0.06, ge=0.0, le=0.1)  # cube xy: centre +- this


class LiftConfig(CubeTaskConfig):
    """Settings of `vitac/Lift-v0`."""

    lift_height_m: float = Field(default=0.05, gt=0.0, le=0.15)
    max_steps: int = Field(default=80, ge=1, le=10_000)


class CubeTaskEnv(ArmTaskEnv):
    """Base of the cube tasks: the picked cube `cube`, a start above the table, grasp tests."""

    cube_centre: ClassVar[tuple[float, float]] = (0.3, 0.0)
    start_height: ClassVar[float] = 0.15  # TCP height at the start

    config: CubeTaskConfig

    def __init__(
        self,
        config: CubeTaskConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        super().__init__(config, render_mode)
        m = self.model
        self._cube = named_id(m, mujoco.mjtObj.mjOBJ_BODY, "cube")
        self._cube_qpos = m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, "cube")]
        self._cube_geom = named_id(m, mujoco.mjtObj.mjOBJ_GEOM, "cube")

    @property
    def cube_half(self) -> float:
        return self.config.cube_size_mm / 2000.0

    def home_pose(self, rng: np.random.Generator) -> tuple[F64, F64, float]:
        xy = np.array(self.cube_centre) + rng.uniform(-0.03, 0.03, 2)
        return np.array([*xy, self.start_height]), top_down_rotation(0.0), 0.07

    def task_state(self) -> dict[str, F64]:
        return {
            "cube_pos": self.data.xpos[self._cube].copy(),
            "cube_yaw": np.array([body_yaw(self, self._cube)]),
            "cube_half": np.array([self.cube_half]),
        }


class LiftEnv(CubeTaskEnv):
    """Pick up the cube; see the module docstring."""

    config_cls: ClassVar[type[ArmTaskConfig]] = LiftConfig
    name: ClassVar[str] = "lift"
    randomized_geoms: ClassVar[tuple[str, ...]] = ("cube",)
    randomized_bodies: ClassVar[tuple[str, ...]] = ("cube",)

    config: LiftConfig

    def task_xml(self) -> str:
        return cube_xml("cube", self.cube_half, (0.85, 0.2, 0.15), mass=0.05)

    def _reset_task(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        xy = np.array(self.cube_centre) + rng.uniform(-1, 1, 2) * self.config.cube_range_m
        place_cube(self, self._cube_qpos, xy, self.cube_half, float(rng.uniform(-np.pi, np.pi)))

    def _is_success(self) -> bool:
        lifted = cube_bottom_z(self, self._cube, self.cube_half) > self.config.lift_height_m
        return lifted and self.grasped(self._cube_geom)


def cube_xml(name: str, half: float, rgb: tuple[float, float, float], mass: float) -> str:
    """A free cube body `name` with one geom of the same name."""
    r, g, b = rgb
    return f"""\
    <body name="{name}" pos="0.3 0 {half:.6g}">
      <freejoint name="{name}"/>
      <geom name="{name}" type="box" size="{half:.6g} {half:.6g} {half:.6g}" mass="{mass:.6g}"
            rgba="{r} {g} {b} 1" friction="1 0.005 0.0001"/>
    </body>"""


def place_cube(env: ArmTaskEnv, qpos_adr: int, xy: F64, half: float, yaw: float) -> None:
    """Set a free cube resting on the table at `xy` with `yaw`."""
    env.data.qpos[qpos_adr : qpos_adr + 3] = [*xy, half]
    env.data.qpos[qpos_adr + 3 : qpos_adr + 7] = quat_from_yaw(yaw)


def cube_bottom_z(env: ArmTaskEnv, body: int, half: float) -> float:
    rot = env.data.xmat[body].reshape(3, 3)
    return float(env.data.xpos[body][2] - np.abs(rot[2]).sum() * half)


def body_yaw(env: ArmTaskEnv, body: int) -> float:
    rot = env.data.xmat[body].reshape(3, 3)
    return float(np.arctan2(rot[1, 0], rot[0, 0]))
