"""The rig twin: the 6-DoF tactile arm on a table, as the gymnasium env every arm task extends.

`ArmTaskEnv` is the base of every arm task. A task supplies its objects as MJCF (`task_xml`),
where they start (`_reset_task`), the arm's home pose and its success test; the base does the
rest, identically for every task, from four parts:

- `sim.tasks.arm_config`: the settings (`ArmTaskConfig`) and the scene (the table, the arm of
  `drivers/assets/wx250s_tactile.xml` with two tactile pads, the `scene` and `wrist` cameras);
- `sim.tasks.arm_control`: the actions (absolute or delta TCP poses plus a gripper width) and
  the controller that turns them into ramped servo targets;
- `sim.tasks.arm_observation`: the observation (cameras, tactile pads, proprioception);
- `sim.tasks.randomize`: domain randomisation (`config.randomize`), drawn from the reset seed.

Reward 1.0 on success, else 0; `terminated` on success, `truncated` after `max_steps` steps,
or at once if the physics diverged (MuJoCo then resets its state; `info["sim_unstable"]`).
`info`: is_success and the normal force on each pad (N) under force.left_pad / force.right_pad.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, cast

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from drivers.kinematics import ARM_MJCF, PAD_SITES, named_id
from drivers.spec import FieldSpec
from sim.sensor_unit import SensorUnit, pool_unit
from sim.tactile import TactileReading, TactileSensor
from sim.tasks import check_render_mode, observation_space, physics_diverged, validated_config
from sim.tasks.arm_config import SCENE_CAMERA, ArmTaskConfig, Vec3, arm_scene_xml
from sim.tasks.arm_control import ACTION_DIMS, ArmController
from sim.tasks.arm_observation import ArmObserver, Obs, fast_flags
from sim.tasks.randomize import DomainRandomizer

F64 = NDArray[np.float64]


class ArmTaskEnv(gym.Env[Obs, NDArray[np.float32]]):
    """Base of the arm tasks; see the module docstring. Subclasses fill in the task hooks."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012
    config_cls: ClassVar[type[ArmTaskConfig]] = ArmTaskConfig
    name: ClassVar[str] = "arm"
    # scene camera placement (metres); the task may move it
    camera_pos: ClassVar[Vec3] = (0.62, -0.26, 0.32)
    camera_target: ClassVar[Vec3] = (0.3, 0.0, 0.04)
    camera_fovy: ClassVar[float] = 45.0
    # what domain randomisation touches besides lights, table and cameras
    randomized_geoms: ClassVar[tuple[str, ...]] = ()  # colour and friction
    randomized_bodies: ClassVar[tuple[str, ...]] = ()  # mass and inertia

    # ------------------------------------------------------------------ task hooks
    def task_xml(self) -> str:
        """The task's bodies, inserted into the worldbody."""
        return ""

    def task_defaults_xml(self) -> str:
        """Default classes the task's MJCF uses."""
        return ""

    def task_extra_xml(self) -> str:
        """Extra top-level MJCF sections (contact exclusions, equalities, ...)."""
        return ""

    def home_pose(self, rng: np.random.Generator) -> tuple[F64, F64, float]:
        """TCP position (3,), rotation (3, 3) and gripper width at the start of an episode."""
        raise NotImplementedError

    def _reset_task(self, rng: np.random.Generator, options: dict[str, Any]) -> None:
        """Place the task's objects (the arm is already at home); pop the options used."""

    def _is_success(self) -> bool:
        raise NotImplementedError

    def task_observation_spec(self) -> dict[str, FieldSpec]:
        """Observation keys of the task itself (`task.*`, e.g. a vision system's estimate)."""
        return {}

    def task_observation_bounds(self) -> dict[str, tuple[F64, F64]]:
        """(low, high) of each `task_observation_spec` key."""
        return {}

    def task_observation(self) -> Obs:
        """The `task_observation_spec` values now."""
        return {}

    def task_state(self) -> dict[str, F64]:
        """Task-specific privileged state (object poses, goals) for experts."""
        return {}

    # ------------------------------------------------------------------ construction
    def __init__(
        self,
        config: ArmTaskConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        check_render_mode(render_mode, self.metadata)
        config = validated_config(self.config_cls, config, type(self).__name__)
        self.config, self.render_mode = config, render_mode
        self.metadata = {**self.metadata, "render_fps": config.control_hz}
        self.model = mujoco.MjModel.from_xml_string(
            self.scene_xml(), {ARM_MJCF.name: ARM_MJCF.read_bytes()}
        )
        self.data = mujoco.MjData(self.model)
        self._pad_geoms = [named_id(self.model, mujoco.mjtObj.mjOBJ_GEOM, p) for p in PAD_SITES]
        self.controller = ArmController(self.model, self.data, config)
        self.observer = ArmObserver(self.model, self.data, config, self.controller)
        self.randomizer = DomainRandomizer(
            self.model,
            self.observer.sensors,
            self.randomized_geoms,
            self.randomized_bodies,
            SCENE_CAMERA,
        )
        self._video: mujoco.Renderer | None = None
        self._steps = 0
        self.tactile_unit = -1
        self.action_space = spaces.Box(
            -1.0, 1.0, shape=(ACTION_DIMS[config.action_mode],), dtype=np.float32
        )
        bounds = self.observer.bounds() | self.task_observation_bounds()
        space = observation_space(self.observation_spec(), bounds)
        self.observation_space = cast("spaces.Space[Obs]", space)

    def scene_xml(self) -> str:
        """The full MJCF of the task scene (the arm file is included, not copied)."""
        return arm_scene_xml(
            self.config,
            self.name,
            self.camera_pos,
            self.camera_target,
            self.camera_fovy,
            defaults=self.task_defaults_xml(),
            bodies=self.task_xml(),
            extra=self.task_extra_xml(),
        )

    # ------------------------------------------------------------------ specs
    def observation_spec(self) -> dict[str, FieldSpec]:
        return self.observer.spec() | self.task_observation_spec()

    def action_spec(self) -> dict[str, FieldSpec]:
        mode = self.config.action_mode
        units = "m,rot6d,m" if mode == "abs_pose" else "m,axis_angle,m"
        return {
            "action": FieldSpec(
                shape=(ACTION_DIMS[mode],), dtype="float32", units=units, sensor=mode
            )
        }

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        rng = self.np_random
        mujoco.mj_resetData(self.model, self.data)
        self._set_units(rng)
        self.randomizer.restore()
        if self.config.randomize:
            self.randomizer.randomize(rng)
        self.controller.home(*self.home_pose(rng))
        mujoco.mj_forward(self.model, self.data)
        self._reset_task(rng, options)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}")
        for _ in range(round(self.config.settle_s / self.config.physics_dt)):
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        return self._observe(), self._info(self._is_success())

    def step(self, action: NDArray[np.float32]) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        self.controller.step(np.asarray(action, dtype=np.float64))
        self._steps += 1
        success = self._is_success()
        unstable = physics_diverged(self.data)
        truncated = not success and (unstable or self._steps >= self.config.max_steps)
        info = self._info(success) | ({"sim_unstable": True} if unstable else {})
        return self._observe(), float(success), success, truncated, info

    def render(self) -> NDArray[np.uint8] | None:
        if self.render_mode != "rgb_array":
            return None
        if self._video is None:
            self._video = mujoco.Renderer(
                self.model, self.config.render_height, self.config.render_width
            )
            fast_flags(self._video)
        self._video.update_scene(self.data, camera=SCENE_CAMERA)
        frame: NDArray[np.uint8] = self._video.render()
        return frame

    def close(self) -> None:
        self.observer.close()
        if self._video is not None:
            self._video.close()
        self._video = None

    # ------------------------------------------------------------------ for callers
    @property
    def control_hz(self) -> float:
        return float(self.config.control_hz)

    @property
    def sensors(self) -> list[TactileSensor]:
        """The tactile sensors of the pads, in the order of `drivers.kinematics.PAD_SITES`."""
        return self.observer.sensors

    @property
    def command_position(self) -> F64:
        """The TCP position the servos are commanded to (FK of the joint targets)."""
        return self.controller.pos_cmd.copy()

    def hold_action(self) -> NDArray[np.float32]:
        """The action that keeps the arm and gripper where they are commanded to be."""
        return self.controller.hold_action()

    def pose_action(self, position: F64, rotation: F64, width: float) -> NDArray[np.float32]:
        """An action (in the configured mode) whose target is this TCP pose and width."""
        return self.controller.pose_action(position, rotation, width)

    def tcp_pose(self) -> tuple[F64, F64]:
        """Measured TCP position (3,) and rotation (3, 3)."""
        return self.observer.tcp_pose()

    def privileged_state(self) -> dict[str, F64]:
        """Simulator state an expert may use (task state plus the robot's)."""
        pos, rot = self.tcp_pose()
        return {
            **self.task_state(),
            "tcp_pos": pos,
            "tcp_rot": rot,
            "command_pos": self.command_position,
            "command_rot": self.controller.rot_cmd.copy(),
            "gripper": np.array([self.controller.opening()]),
            "joints": self.data.qpos[self.controller.arm_qpos].copy(),
        }

    def tactile_readings(self) -> list[TactileReading]:
        """The readings behind the last tactile images (depth maps, forces), per pad."""
        return list(self.observer.readings)

    # ------------------------------------------------------------------ internals
    def grasped(self, geoms: int | set[int]) -> bool:
        """Both pads touch `geoms` (a geom id, or the ids of one body's geoms)."""
        return len(self._pads_touching(geoms)) == 2

    def touches_pad(self, geoms: int | set[int]) -> bool:
        """Some pad touches `geoms`."""
        return bool(self._pads_touching(geoms))

    def _pads_touching(self, geoms: int | set[int]) -> set[int]:
        wanted = {geoms} if isinstance(geoms, int) else geoms
        touching = set()
        for i in range(self.data.ncon):
            con = self.data.contact[i]
            pair = {int(con.geom1), int(con.geom2)}
            if pair & wanted:
                touching |= pair & set(self._pad_geoms)
        return touching

    def _set_units(self, rng: np.random.Generator) -> None:
        """Each pad's sensor unit: the nominal one, or the pads of a unit of the configured
        pool picked by a generator spawned from the episode's, so that the scene draws the same
        with units as without."""
        c, units = self.config, (SensorUnit(),) * len(self.sensors)
        self.tactile_unit = -1  # the pool's unit in use, -1 for the nominal sensors
        if c.tactile_units:
            self.tactile_unit = int(rng.spawn(1)[0].integers(c.tactile_units))
            pads = len(self.sensors)
            units = pool_unit(c.tactile_unit_seed, self.tactile_unit, c.tactile_unit_spread, pads)
        for sensor, unit in zip(self.sensors, units, strict=True):
            sensor.set_unit(unit)

    def _observe(self) -> Obs:
        noise_rng = self.np_random if self.config.tactile_noise else None
        return self.observer.observe(noise_rng) | self.task_observation()

    def _info(self, success: bool) -> dict[str, Any]:
        return {"is_success": success, **self.observer.pad_forces()}
