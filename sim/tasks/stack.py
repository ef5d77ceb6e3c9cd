"""`vitac/Stack-v0`: put the small red cube on the green `target` cube (a vision-centred task).

Both cubes land at random, separated positions and yaws. Success: the red cube rests on the
green one (its bottom within 5 mm of the green top, its centre over the green top) and the
gripper has let go of it (no pad touches it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import mujoco
import numpy as np
from numpy.typing import NDArray
from pydantic import Field

from drivers.kinematics import named_id
from sim.tasks.arm_config import ArmTaskConfig
from sim.tasks.lift import (
    CubeTaskConfig,
    CubeTaskEnv,
    body_yaw,
    cube_bottom_z,
    cube_xml,
    place_cube,
)

F64 = NDArray[np.float64]


class StackConfig(CubeTaskConfig):
    """Settings of `vitac/Stack-v0`."""

    cube_size_mm: float = Field(default=30.0, ge=20.0, le=45.0)  # the red cube, picked up
    target_size_mm: float = Field(default=45.0, ge=30.0, le=60.0)  # the green cube, stacked on
    cube_range_m: float = Field(default=0.08, ge=0.05, le=0.1)
    min_separation_m: float = Field(default=0.09, ge=0.07, le=0.12)
    max_steps: int = Field(default=120, ge=1, le=10_000)


class StackEnv(CubeTaskEnv):
    """Stack the red cube on the green one; see the module docstring."""

    config_cls: ClassVar[type[ArmTaskConfig]] = StackConfig
    name: ClassVar[str] = "stack"
    randomized_geoms: ClassVar[tuple[str, ...]] = ("cube", "target")
    randomized_bodies: ClassVar[tuple[str, ...]] = ("cube", "target")

    config: StackConfig

    def __init__(
        self, config: StackConfig | Mapping[str, Any] | None = None, render_mode: str | None = None
    ) -> None:
        super().__init__(config, render_mode)
        m = self.model
        self._target = named_id(m, mujoco.mjtObj.mjOBJ_BODY, "target")
        self._target_qpos = m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, "target")]
        self._target_geom = named_id(m, mujoco.mjtObj.mjOBJ_GEOM, "target")

    @property
    def target_half(self) -> float:
        return self.config.target_size_mm / 2000.0

    def task_xml(self) -> str:
        return "\n".join(
            [
                cube_xml("cube", self.cube_half, (0.85, 0.2, 0.15), mass=0.04),
                cube_xml("target", self.target_half, (0.2, 0.65, 0.25), mass=0.15),
            ]
        )

    def _reset_task(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        centre, span = np.array(self.cube_centre), self.config.cube_range_m
        cube_xy = centre + rng.uniform(-1, 1, 2) * span
        for _ in range(100):  # rejection sampling: the cubes must not overlap
            target_xy = centre + rng.uniform(-1, 1, 2) * span
            if np.linalg.norm(target_xy - cube_xy) >= self.config.min_separation_m:
                break
        else:  # pragma: no cover - the ranges make this practically impossible
            target_xy = cube_xy + np.array([0.0, self.config.min_separation_m])
        place_cube(
            self, self._cube_qpos, cube_xy, self.cube_half, float(rng.uniform(-np.pi, np.pi))
        )
        place_cube(
            self, self._target_qpos, target_xy, self.target_half, float(rng.uniform(-np.pi, np.pi))
        )

    def _is_success(self) -> bool:
        target_top = float(self.data.xpos[self._target][2]) + self.target_half
        gap = cube_bottom_z(self, self._cube, self.cube_half) - target_top
        offset = self.data.xpos[self._cube][:2] - self.data.xpos[self._target][:2]
        on_top = abs(gap) < 0.005 and float(np.linalg.norm(offset)) < self.target_half
        released = not self.touches_pad(self._cube_geom)
        return on_top and released

    def task_state(self) -> dict[str, F64]:
        return {
            **super().task_state(),
            "target_pos": self.data.xpos[self._target].copy(),
            "target_yaw": np.array([body_yaw(self, self._target)]),
            "target_half": np.array([self.target_half]),
        }
