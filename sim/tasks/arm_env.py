"""The rig twin: the 6-DoF tactile arm on a table, cameras, controller and domain randomisation.

`ArmTaskEnv` is the base of every arm task. A task supplies its objects as MJCF (`task_xml`),
where they start (`_reset_task`), the arm's home pose and its success test; the base does the
rest, identically for every task:

Scene: a table whose top is the plane z = 0, the arm of `drivers/assets/wx250s_tactile.xml`
(its base is the world origin) with two tactile pads, a fixed `scene` camera and the `wrist`
camera.

Action (float32), `config.action_mode`:
    "abs_pose"   (10,) [x, y, z, rot6d (6), gripper_width]: absolute TCP target in the world.
    "delta_pose" (7,)  [dx, dy, dz, rx, ry, rz, gripper_width]: a step from the commanded pose,
                       the rotation as a world-frame axis-angle (drivers.rotations).
    Both are metres / radians; the box is [-1, 1] per component (check_env's recommendation).
Controller: the target is clipped to the workspace, then moved from the current commanded pose
by at most `max_step_m` and `max_rot_step_rad`; IK (drivers.kinematics, warm-started from the joint
command) turns it into joint targets that the position servos track, ramped linearly over the
control period; each finger's target is half the width (0 squeezes hardest).
Observation (dict; keys and layout from `observation_spec`):
    rgb.<camera> (S, S, 3) uint8 for each of `config.cameras`, depth.<camera> (S, S) float32 m
    for each of `config.depth_cameras`, tactile.left / tactile.right (H, W, 3) uint8,
    proprio.ee_pose (9,) float32 [TCP position, rot6d], proprio.gripper (1,) pad opening (m),
    proprio.joints (6,) arm joint angles (rad).
Reward 1.0 on success, else 0; `terminated` on success, `truncated` after `max_steps` steps,
or at once if the physics diverged (MuJoCo then resets its state; `info["sim_unstable"]`).
`info`: is_success and the normal force on each pad (N) under force.left_pad / force.right_pad.

Domain randomisation (`config.randomize`), drawn from the reset seed in a fixed order: light
intensity and direction, colours of the table and the task's objects, friction, object masses,
each tactile pad's reference (no-contact) frame, and the scene camera's pose.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal, cast

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray
from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.kinematics import (
    ARM_JOINTS,
    ARM_MJCF,
    FINGER_ACTUATORS,
    FINGER_JOINTS,
    MAX_OPENING_M,
    PAD_SITES,
    ArmKinematics,
    named_id,
)
from drivers.rotations import (
    matrix_from_axis_angle,
    matrix_from_quat,
    matrix_from_rot6d,
    quat_from_matrix,
    rot6d_from_matrix,
    rotation_error,
)
from drivers.spec import FieldSpec
from sim.scene import look_at_xyaxes
from sim.tactile import TactileReading, TactileSensor, profile
from sim.tasks import (
    check_control_settings,
    check_render_mode,
    observation_space,
    physics_diverged,
    validated_config,
)

Obs = dict[str, NDArray[Any]]
F64 = NDArray[np.float64]
Vec3 = tuple[float, float, float]
SCENE_CAMERA = "scene"
TACTILE_KEYS = ("tactile.left", "tactile.right")  # one per pad of PAD_SITES
ACTION_DIMS = {"abs_pose": 10, "delta_pose": 7}
_RANDOMIZED_FIELDS = (  # MjModel fields `_randomize` changes
    "light_diffuse",
    "light_dir",
    "geom_rgba",
    "geom_friction",
    "body_mass",
    "body_inertia",
    "cam_pos",
    "cam_quat",
)
_HOME_SEED = np.array([0.0, -0.5, 0.6, 0.0, 1.47, 0.0])  # elbow-up, TCP pointing down


class ArmTaskConfig(BaseModel):
    """Settings every arm task shares. Lengths in metres, angles in radians."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # observations
    image_size: int = Field(default=84, ge=16, le=480)  # camera image side, pixels
    cameras: tuple[Literal["scene", "wrist"], ...] = ("scene", "wrist")
    depth_cameras: tuple[Literal["scene", "wrist"], ...] = ()
    tactile_profile: str = "gelsight_mini"  # a key of sim.tactile.PROFILES
    tactile_size: tuple[int, int] | None = (60, 80)  # (H, W) pixels; None: sensor native
    tactile_markers: bool | None = None  # None: the profile's default
    tactile_noise: bool = True  # per-pixel sensor noise, drawn from the episode seed
    render_height: int = Field(default=240, ge=16, le=960)  # render() frame
    render_width: int = Field(default=320, ge=16, le=1280)
    # control
    action_mode: Literal["abs_pose", "delta_pose"] = "abs_pose"
    control_hz: float = Field(default=10.0, gt=0.0, le=100.0)
    physics_dt: float = Field(default=0.002, gt=0.0, le=0.005)
    max_step_m: float = Field(default=0.02, gt=0.0, le=0.1)  # TCP translation per step
    max_rot_step_rad: float = Field(default=0.25, gt=0.0, le=1.0)  # TCP rotation per step
    workspace_low: Vec3 = (0.15, -0.25, 0.016)  # TCP >= 16 mm: fingertips above the table
    workspace_high: Vec3 = (0.45, 0.25, 0.30)
    # episode
    max_steps: int = Field(default=100, ge=1, le=10_000)
    settle_s: float = Field(default=0.2, ge=0.0, le=2.0)
    randomize: bool = True  # domain randomisation, see the module docstring

    @model_validator(mode="after")
    def _consistent(self) -> ArmTaskConfig:
        profile(self.tactile_profile)  # ValueError naming the profiles there are
        if not set(self.depth_cameras) <= set(self.cameras):
            raise ValueError(f"depth_cameras {self.depth_cameras} must be among {self.cameras}")
        if len(set(self.cameras)) != len(self.cameras):
            raise ValueError(f"cameras {self.cameras} lists a camera twice")
        check_control_settings(
            self.workspace_low, self.workspace_high, self.control_hz, self.physics_dt
        )
        return self

    @property
    def substeps(self) -> int:
        """Physics steps per control step."""
        return round(1.0 / (self.control_hz * self.physics_dt))


_SCENE_TEMPLATE = """\
<mujoco model="vitac_{name}">
  <compiler angle="radian" autolimits="true"/>
  <option timestep="{dt}" integrator="implicitfast" cone="elliptic" impratio="10"/>
  <size memory="{memory}"/>
  <visual>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="{offwidth}" offheight="{offheight}"/>
    <headlight ambient="0.25 0.25 0.25" diffuse="0.2 0.2 0.2" specular="0 0 0"/>
  </visual>
  <default>
    <geom solref="0.01 1" solimp="0.95 0.99 0.001"/>
{defaults}
  </default>
  <include file="{arm_file}"/>
  <worldbody>
    <light name="key" pos="0.3 -0.4 1.2" dir="0 0.3 -1" directional="true" castshadow="false"
           diffuse="0.45 0.45 0.45"/>
    <light name="fill" pos="-0.3 0.4 1.0" dir="0.3 -0.3 -1" directional="true"
           castshadow="false" diffuse="0.12 0.12 0.12"/>
    <geom name="table" type="plane" size="0.8 0.8 0.02" pos="0.3 0 0" rgba="0.62 0.6 0.55 1"
          friction="0.8 0.005 0.0001"/>
    <camera name="{camera}" pos="{cam_pos}" xyaxes="{cam_xyaxes}" fovy="{fovy}"/>
{bodies}
  </worldbody>
{extra}
</mujoco>
"""


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
        self.kinematics = ArmKinematics(self.model)
        m = self.model
        self._arm_qpos = self.kinematics.qpos_adr
        self._arm_act = np.array([named_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, j) for j in ARM_JOINTS])
        self._finger_qpos = np.array(
            [m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in FINGER_JOINTS]
        )
        self._finger_act = np.array(
            [named_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in FINGER_ACTUATORS]
        )
        self._tcp = self.kinematics.site_id
        self.sensors = [
            TactileSensor(
                m,
                site,
                site,
                config.tactile_profile,
                image_size=config.tactile_size,
                markers=config.tactile_markers,
                noise=config.tactile_noise,
            )
            for site in PAD_SITES
        ]
        self._tactile_shape = self.sensors[0].reference.shape
        self._renderer: mujoco.Renderer | None = mujoco.Renderer(
            m, config.image_size, config.image_size
        )
        _fast_flags(self._renderer)
        self._depth_renderer: mujoco.Renderer | None = None
        if config.depth_cameras:
            self._depth_renderer = mujoco.Renderer(m, config.image_size, config.image_size)
            self._depth_renderer.enable_depth_rendering()
        self._video: mujoco.Renderer | None = None
        # what domain randomisation changes, restored before every reset
        self._nominal = {f: np.array(getattr(m, f), copy=True) for f in _RANDOMIZED_FIELDS}

        self._low, self._high = np.array(config.workspace_low), np.array(config.workspace_high)
        self._q_cmd = _HOME_SEED.copy()  # joint targets the servos track
        self._pos_cmd, self._rot_cmd = self.kinematics.fk(self._q_cmd)
        self._width_cmd = 0.0
        self._readings: list[TactileReading] = []
        self._steps = 0
        self.action_space = spaces.Box(
            -1.0, 1.0, shape=(ACTION_DIMS[config.action_mode],), dtype=np.float32
        )
        self.observation_space = cast("spaces.Space[Obs]", self._make_observation_space())

    def scene_xml(self) -> str:
        """The full MJCF of the task scene (the arm file is included, not copied)."""
        cfg = self.config
        return _SCENE_TEMPLATE.format(
            name=self.name,
            dt=f"{cfg.physics_dt:.6g}",
            memory="20M",
            offwidth=max(640, cfg.render_width, cfg.image_size),
            offheight=max(480, cfg.render_height, cfg.image_size),
            arm_file=ARM_MJCF.name,
            camera=SCENE_CAMERA,
            cam_pos=_v(self.camera_pos),
            cam_xyaxes=_v(look_at_xyaxes(self.camera_pos, self.camera_target)),
            fovy=f"{self.camera_fovy:.6g}",
            defaults=self.task_defaults_xml(),
            bodies=self.task_xml(),
            extra=self.task_extra_xml(),
        )

    # ------------------------------------------------------------------ specs
    def observation_spec(self) -> dict[str, FieldSpec]:
        cfg, s = self.config, self.config.image_size
        spec: dict[str, FieldSpec] = {}
        for cam in cfg.cameras:
            spec[f"rgb.{cam}"] = FieldSpec(shape=(s, s, 3), dtype="uint8", units="rgb", sensor=cam)
        for cam in cfg.depth_cameras:
            spec[f"depth.{cam}"] = FieldSpec(shape=(s, s), dtype="float32", units="m", sensor=cam)
        for key, site in zip(TACTILE_KEYS, PAD_SITES, strict=True):
            spec[key] = FieldSpec(
                shape=self._tactile_shape, dtype="uint8", units="rgb", sensor=site
            )
        spec["proprio.ee_pose"] = FieldSpec(
            shape=(9,), dtype="float32", units="m,rot6d", sensor="tcp"
        )
        spec["proprio.gripper"] = FieldSpec(
            shape=(1,), dtype="float32", units="m", sensor="gripper"
        )
        spec["proprio.joints"] = FieldSpec(shape=(6,), dtype="float32", units="rad", sensor="arm")
        return spec

    def action_spec(self) -> dict[str, FieldSpec]:
        mode = self.config.action_mode
        units = "m,rot6d,m" if mode == "abs_pose" else "m,axis_angle,m"
        return {
            "action": FieldSpec(
                shape=(ACTION_DIMS[mode],), dtype="float32", units=units, sensor=mode
            )
        }

    def _make_observation_space(self) -> spaces.Dict:
        lim = self.kinematics.limits
        bounds = {
            "proprio.ee_pose": (np.full(9, -1.5), np.full(9, 1.5)),
            "proprio.gripper": (np.array([-0.01]), np.array([MAX_OPENING_M + 0.02])),
            "proprio.joints": (lim[:, 0] - 0.3, lim[:, 1] + 0.3),
        }
        return observation_space(self.observation_spec(), bounds)

    # ------------------------------------------------------------------ gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        rng = self.np_random
        mujoco.mj_resetData(self.model, self.data)
        for field, value in self._nominal.items():
            getattr(self.model, field)[:] = value
        for sensor in self.sensors:
            sensor.reset_reference()
        if self.config.randomize:
            self._randomize(rng)
        pos, rot, width = self.home_pose(rng)
        self._q_cmd = self.kinematics.ik(pos, rot, _HOME_SEED).q
        self._pos_cmd, self._rot_cmd = self.kinematics.fk(self._q_cmd)
        self._width_cmd = float(width)
        self.data.qpos[self._arm_qpos] = self._q_cmd
        self.data.qpos[self._finger_qpos] = width / 2
        self._set_ctrl(self._q_cmd, self._width_cmd)
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
        pos, rot, width = self._decode_action(np.asarray(action, dtype=np.float64))
        q_target = self.kinematics.ik(pos, rot, self._q_cmd).q
        q_start, width_start, n = self._q_cmd, self._width_cmd, self.config.substeps
        for k in range(1, n + 1):
            f = k / n
            self._set_ctrl(
                q_start + (q_target - q_start) * f, width_start + (width - width_start) * f
            )
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        self._q_cmd, self._width_cmd = q_target, width
        self._pos_cmd, self._rot_cmd = self.kinematics.fk(q_target)
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
            _fast_flags(self._video)
        self._video.update_scene(self.data, camera=SCENE_CAMERA)
        frame: NDArray[np.uint8] = self._video.render()
        return frame

    def close(self) -> None:
        for renderer in (self._renderer, self._depth_renderer, self._video):
            if renderer is not None:
                renderer.close()
        self._renderer = self._depth_renderer = self._video = None

    # ------------------------------------------------------------------ for callers
    @property
    def control_hz(self) -> float:
        return float(self.config.control_hz)

    @property
    def command_position(self) -> F64:
        """The TCP position the servos are commanded to (FK of the joint targets)."""
        return self._pos_cmd.copy()

    def hold_action(self) -> NDArray[np.float32]:
        """The action that keeps the arm and gripper where they are commanded to be."""
        if self.config.action_mode == "delta_pose":
            return np.array([0.0] * 6 + [self._width_cmd], dtype=np.float32)
        return self.pose_action(self._pos_cmd, self._rot_cmd, self._width_cmd)

    def pose_action(self, position: F64, rotation: F64, width: float) -> NDArray[np.float32]:
        """An action (in the configured mode) whose target is this TCP pose and width."""
        if self.config.action_mode == "delta_pose":
            delta_rot = rotation_error(rotation, self._rot_cmd)
            out = [*(np.asarray(position) - self._pos_cmd), *delta_rot, width]
            return np.array(out, dtype=np.float32)
        return np.array([*position, *rot6d_from_matrix(rotation), width], dtype=np.float32)

    def tcp_pose(self) -> tuple[F64, F64]:
        """Measured TCP position (3,) and rotation (3, 3)."""
        pos = self.data.site_xpos[self._tcp].copy()
        return pos, self.data.site_xmat[self._tcp].reshape(3, 3).copy()

    def privileged_state(self) -> dict[str, F64]:
        """Simulator state an expert may use (task state plus the robot's)."""
        pos, rot = self.tcp_pose()
        return {
            **self.task_state(),
            "tcp_pos": pos,
            "tcp_rot": rot,
            "command_pos": self.command_position,
            "command_rot": self._rot_cmd.copy(),
            "gripper": np.array([self._opening()]),
            "joints": self.data.qpos[self._arm_qpos].copy(),
        }

    def tactile_readings(self) -> list[TactileReading]:
        """The readings behind the last tactile images (depth maps, forces), per pad."""
        return list(self._readings)

    # ------------------------------------------------------------------ internals
    def _decode_action(self, action: F64) -> tuple[F64, F64, float]:
        """Decode, clip and rate-limit an action into a TCP target and a gripper width."""
        dims = ACTION_DIMS[self.config.action_mode]
        if action.shape != (dims,):
            raise ValueError(
                f"{self.config.action_mode} actions have shape ({dims},), got {action.shape}"
            )
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        if self.config.action_mode == "abs_pose":
            pos, rot, width = action[:3], matrix_from_rot6d(action[3:9]), float(action[9])
        else:
            pos = self._pos_cmd + action[:3]
            rot = matrix_from_axis_angle(action[3:6]) @ self._rot_cmd
            width = float(action[6])
        pos = np.clip(pos, self._low, self._high)
        step = pos - self._pos_cmd
        dist = float(np.linalg.norm(step))
        if dist > self.config.max_step_m:
            pos = self._pos_cmd + step * (self.config.max_step_m / dist)
        turn = rotation_error(rot, self._rot_cmd)
        angle = float(np.linalg.norm(turn))
        if angle > self.config.max_rot_step_rad:
            rot = matrix_from_axis_angle(turn * (self.config.max_rot_step_rad / angle)) @ (
                self._rot_cmd
            )
        return pos, rot, float(np.clip(width, 0.0, MAX_OPENING_M))

    def _set_ctrl(self, q: F64, width: float) -> None:
        self.data.ctrl[self._arm_act] = q
        self.data.ctrl[self._finger_act] = width / 2

    def _opening(self) -> float:
        return float(self.data.qpos[self._finger_qpos].sum())

    def _observe(self) -> Obs:
        if self._renderer is None:
            raise RuntimeError("the env is closed")
        obs: Obs = {}
        for cam in self.config.cameras:
            self._renderer.update_scene(self.data, camera=cam)
            obs[f"rgb.{cam}"] = self._renderer.render()
        if self._depth_renderer is not None:
            for cam in self.config.depth_cameras:
                self._depth_renderer.update_scene(self.data, camera=cam)
                obs[f"depth.{cam}"] = self._depth_renderer.render().astype(np.float32)
        noise_rng = self.np_random if self.config.tactile_noise else None
        self._readings = [s.read(self.model, self.data, noise_rng) for s in self.sensors]
        for key, reading in zip(TACTILE_KEYS, self._readings, strict=True):
            obs[key] = reading.image
        pos, rot = self.tcp_pose()
        obs["proprio.ee_pose"] = np.concatenate([pos, rot6d_from_matrix(rot)]).astype(np.float32)
        obs["proprio.gripper"] = np.array([self._opening()], dtype=np.float32)
        obs["proprio.joints"] = self.data.qpos[self._arm_qpos].astype(np.float32)
        return obs

    def _info(self, success: bool) -> dict[str, Any]:
        forces = {
            f"force.{site}": reading.normal_force
            for site, reading in zip(PAD_SITES, self._readings, strict=True)
        }
        return {"is_success": success, **forces}

    def _randomize(self, rng: np.random.Generator) -> None:
        """Domain randomisation from `rng`, always drawing in the same order."""
        m = self.model
        m.light_diffuse[:] *= rng.uniform(0.7, 1.3, (m.nlight, 1))
        light_dir = m.light_dir + rng.uniform(-0.15, 0.15, (m.nlight, 3))
        m.light_dir[:] = light_dir / np.linalg.norm(light_dir, axis=1, keepdims=True)
        colour_geoms = [
            named_id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in ("table", *self.randomized_geoms)
        ]
        for g in colour_geoms:
            m.geom_rgba[g, :3] = np.clip(m.geom_rgba[g, :3] * rng.uniform(0.75, 1.25, 3), 0, 1)
            m.geom_friction[g, 0] *= rng.uniform(0.8, 1.2)
        for name in self.randomized_bodies:
            b = named_id(m, mujoco.mjtObj.mjOBJ_BODY, name)
            scale = rng.uniform(0.8, 1.2)
            m.body_mass[b] *= scale
            m.body_inertia[b] *= scale
        for sensor in self.sensors:
            sensor.randomize_reference(rng)
        cam = named_id(m, mujoco.mjtObj.mjOBJ_CAMERA, SCENE_CAMERA)
        m.cam_pos[cam] += rng.uniform(-0.01, 0.01, 3)
        turn = matrix_from_axis_angle(rng.uniform(-0.02, 0.02, 3))
        m.cam_quat[cam] = quat_from_matrix(turn @ matrix_from_quat(m.cam_quat[cam]))


def _fast_flags(renderer: mujoco.Renderer) -> None:
    """Shadows and reflections off: on llvmpipe they cost more than the rest of the frame."""
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0


def _v(values: tuple[float, ...]) -> str:
    return " ".join(f"{v:.6g}" for v in values)
