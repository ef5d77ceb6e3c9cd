"""`vitac/PegInsertion-v0`: insert a grasped square peg into a square socket on a table.

Each episode the socket lands at a random xy (+- `socket_range_m` around the home position) and
the peg sits in the grasp with a random offset along the pad face (x) and along its own axis (z);
the fingers squeeze it and the physics settles before the first observation.

Action (4,) float32, absolute targets in the world frame (metres):
    [x, y, z, gripper_width]: hand position and opening between the pads. The action space is the
    loose box [-1, 1]^4 m; the env clips xyz to the workspace and the width to [0, max_width_m],
    then moves the commanded xyz by at most `max_step_m` towards it, and ramps the actuator
    targets linearly over the control period. A width below the peg's side (0.02 m) squeezes it:
    0 grips hardest. `hold_action()` is the action that keeps everything where it is.
Observation (dict, keys and layout from `observation_spec`):
    rgb.scene (S, S, 3) uint8, tactile.left / tactile.right (T, T, 3) uint8,
    proprio.ee_pos (3,) float32 m (hand position), proprio.gripper (1,) float32 m (pad opening).
    The tactile images are `sim.tactile.TactileSensor` renderings of the config's
    `tactile_profile` (GelSight Mini by default) at T x T over that sensor's sensing area;
    sensor noise is off unless `tactile_noise`, then drawn from the env's seeded `np_random`.
Reward 1.0 on success, else 0; `terminated` on success, `truncated` after `max_steps` steps,
or at once if the physics diverged (`info["sim_unstable"]`, see `sim.tasks.physics_diverged`).
Success: the peg's lowest point is `success_depth_m` below the socket rim and its centre is
over the hole. `info`: is_success, and the normal force on each pad (N) under force.<pad>.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

import gymnasium as gym
import mujoco
import numpy as np
from gymnasium import spaces
from numpy.typing import NDArray

from drivers.kinematics import named_id
from drivers.spec import FieldSpec
from sim.scene import (
    FINGER_ACTUATORS,
    FINGER_JOINTS,
    HAND_ACTUATORS,
    HAND_JOINTS,
    PADS,
    SCENE_CAMERA,
)
from sim.tactile import TactileSensor, pad_normal_force
from sim.tasks import (
    check_render_mode,
    observation_space,
    physics_diverged,
    validated_config,
)
from sim.tasks.peg_insertion_config import PegInsertionConfig

Obs = dict[str, NDArray[Any]]
ACTION_NAMES = ("x", "y", "z", "gripper_width")  # hand position target, opening target
_SQUEEZE = 0.0003  # initial pad penetration into the peg (m) so the grip holds from step 0
_OBS_MARGIN = 0.05  # proprio bounds: workspace +- this (joint limits are workspace +- 0.02)


def observation_spec(config: PegInsertionConfig) -> dict[str, FieldSpec]:
    """Key -> per-frame layout of the observations (the episode store's schema)."""
    s, t = config.image_size, config.tactile_size
    return {
        "rgb.scene": FieldSpec(shape=(s, s, 3), dtype="uint8", units="rgb", sensor=SCENE_CAMERA),
        "tactile.left": FieldSpec(shape=(t, t, 3), dtype="uint8", units="rgb", sensor=PADS[0]),
        "tactile.right": FieldSpec(shape=(t, t, 3), dtype="uint8", units="rgb", sensor=PADS[1]),
        "proprio.ee_pos": FieldSpec(shape=(3,), dtype="float32", units="m", sensor="hand"),
        "proprio.gripper": FieldSpec(shape=(1,), dtype="float32", units="m", sensor="gripper"),
    }


def action_spec() -> dict[str, FieldSpec]:
    """The action vector's layout: `ACTION_NAMES`, absolute world-frame targets in metres."""
    return {"action": FieldSpec(shape=(4,), dtype="float32", units="m", sensor="gantry")}


class PegInsertionEnv(gym.Env[Obs, NDArray[np.float32]]):
    """Gantry gripper with tactile pads inserting a grasped peg; see the module docstring."""

    metadata: dict[str, Any] = {"render_modes": ["rgb_array"], "render_fps": 10}  # noqa: RUF012

    def __init__(
        self,
        config: PegInsertionConfig | Mapping[str, Any] | None = None,
        render_mode: str | None = None,
    ) -> None:
        check_render_mode(render_mode, self.metadata)
        config = validated_config(PegInsertionConfig, config, type(self).__name__)
        self.config, self.render_mode = config, render_mode
        self.metadata = {**self.metadata, "render_fps": config.control_hz}
        self.scene = config.scene()
        self.model = mujoco.MjModel.from_xml_string(self.scene.to_xml())
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._hand_qpos = [
            m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in HAND_JOINTS
        ]
        self._finger_qpos = [
            m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in FINGER_JOINTS
        ]
        self._hand_act = [named_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in HAND_ACTUATORS]
        self._finger_act = [named_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in FINGER_ACTUATORS]
        self._peg_qpos = m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, "peg")]
        self._peg_body = named_id(m, mujoco.mjtObj.mjOBJ_BODY, "peg")
        self._socket_mocap = m.body_mocapid[named_id(m, mujoco.mjtObj.mjOBJ_BODY, "socket")]
        self._pad_geoms = [named_id(m, mujoco.mjtObj.mjOBJ_GEOM, p) for p in PADS]

        self._sensors = {
            pad: TactileSensor(
                m,
                pad,
                pad,
                config.tactile_profile_model(),
                image_size=(config.tactile_size, config.tactile_size),
                noise=config.tactile_noise,
            )
            for pad in PADS
        }
        self._camera: mujoco.Renderer | None = mujoco.Renderer(
            m, config.image_size, config.image_size
        )
        self._video: mujoco.Renderer | None = None  # made on the first render()

        self._low = np.array([*config.workspace_low, 0.0])
        self._high = np.array([*config.workspace_high, config.max_width_m])
        self._command = np.array([*self.scene.home, 0.0])
        self._socket_xy = np.array(self.scene.home[:2])
        self._depths = {pad: np.zeros((config.tactile_size,) * 2, np.float32) for pad in PADS}
        self._steps = 0
        self.action_space = spaces.Box(-1.0, 1.0, shape=(4,), dtype=np.float32)
        self.observation_space = cast("spaces.Space[Obs]", self._make_observation_space())

    # ---------------------------------------------------------------- spaces and specs
    def observation_spec(self) -> dict[str, FieldSpec]:
        return observation_spec(self.config)

    def action_spec(self) -> dict[str, FieldSpec]:
        return action_spec()

    def _make_observation_space(self) -> spaces.Dict:
        bounds = {
            "proprio.ee_pos": (
                np.array(self.config.workspace_low) - _OBS_MARGIN,
                np.array(self.config.workspace_high) + _OBS_MARGIN,
            ),
            "proprio.gripper": (np.array([-0.005]), np.array([2 * self.scene.finger_max + 0.01])),
        }
        return observation_space(self.observation_spec(), bounds)

    # ---------------------------------------------------------------- gymnasium API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Obs, dict[str, Any]]:
        """New episode. `options` may hold `socket_xy` to place the socket instead of sampling."""
        super().reset(seed=seed)
        options = dict(options or {})
        rng, cfg = self.np_random, self.config
        socket_xy = np.array(self.scene.home[:2]) + rng.uniform(-1, 1, 2) * cfg.socket_range_m
        along_pad, along_peg = rng.uniform(-1, 1, 2) * cfg.grasp_offset_m
        if "socket_xy" in options:
            socket_xy = np.asarray(options.pop("socket_xy"), dtype=np.float64).reshape(2)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)}; known: ['socket_xy']")

        mujoco.mj_resetData(self.model, self.data)
        self._socket_xy = socket_xy
        self.data.mocap_pos[self._socket_mocap] = [*socket_xy, 0.0]
        peg = self._peg_qpos
        self.data.qpos[peg : peg + 3] = self.scene.peg_home((along_pad, 0.0, along_peg))
        self.data.qpos[peg + 3 : peg + 7] = (1.0, 0.0, 0.0, 0.0)
        self.data.qpos[self._finger_qpos] = self.scene.grasp_half - _SQUEEZE
        self._command = np.array([*self.scene.home, 0.0])
        self._set_ctrl(self._command)
        for _ in range(round(cfg.settle_s / cfg.physics_dt)):
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        self._steps = 0
        return self._observe(), self._info(self._is_success())

    def step(self, action: NDArray[np.float32]) -> tuple[Obs, float, bool, bool, dict[str, Any]]:
        target = self._limit(np.asarray(action, dtype=np.float64).reshape(4))
        start, n = self._command, self.config.substeps
        for k in range(1, n + 1):
            self._set_ctrl(start + (target - start) * (k / n))
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)  # kinematics and contacts of the final state
        self._command = target
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
        self._video.update_scene(self.data, camera=SCENE_CAMERA)
        frame: NDArray[np.uint8] = self._video.render()
        return frame

    def close(self) -> None:
        for renderer in (self._camera, self._video):
            if renderer is not None:
                renderer.close()
        self._camera = self._video = None

    # ---------------------------------------------------------------- helpers for callers
    @property
    def control_hz(self) -> float:
        return float(self.config.control_hz)

    @property
    def command(self) -> NDArray[np.float64]:
        """The current clipped, rate-limited target [x, y, z, width] the actuators track."""
        return self._command.copy()

    def hold_action(self) -> NDArray[np.float32]:
        """Action that changes nothing: the current command (the servo targets)."""
        return self._command.astype(np.float32)

    def privileged_state(self) -> dict[str, NDArray[np.float64]]:
        """Simulator state an expert may use; scalars are shape (1,) arrays."""
        peg = self.data.qpos[self._peg_qpos : self._peg_qpos + 7].copy()
        hand = self._hand_pos()
        return {
            "socket_xy": self._socket_xy.copy(),
            "socket_rim_z": np.array([self.scene.socket_height]),
            "hole_half": np.array([self.scene.hole_half]),
            "clearance": np.array([self.scene.clearance]),
            "peg_pos": peg[:3],
            "peg_quat": peg[3:],
            "peg_bottom_z": np.array([self._peg_bottom_z()]),
            "hand_pos": hand,
            "grasp_offset": peg[:3] - hand,
            "gripper": np.array([self._opening()]),
            "command": self._command.copy(),
        }

    @property
    def tactile_sensors(self) -> dict[str, TactileSensor]:
        """The pad sensors by pad name (reference frames, domain randomisation)."""
        return dict(self._sensors)

    def tactile_depth(self) -> dict[str, NDArray[np.float32]]:
        """Raw gel indentation maps (T, T) in metres behind the last tactile images, per pad."""
        return {pad: depth.copy() for pad, depth in self._depths.items()}

    def pad_forces(self) -> dict[str, float]:
        """Total normal contact force on each pad (N) in the current state."""
        return {
            p: pad_normal_force(self.model, self.data, g)
            for p, g in zip(PADS, self._pad_geoms, strict=True)
        }

    # ---------------------------------------------------------------- internals
    def _limit(self, action: NDArray[np.float64]) -> NDArray[np.float64]:
        """Clip to the workspace, then move the commanded xyz by at most `max_step_m`."""
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        target = np.clip(action, self._low, self._high)
        delta = target[:3] - self._command[:3]
        norm = float(np.linalg.norm(delta))
        if norm > self.config.max_step_m:
            target[:3] = self._command[:3] + delta * (self.config.max_step_m / norm)
        return target

    def _set_ctrl(self, command: NDArray[np.float64]) -> None:
        self.data.ctrl[self._hand_act] = command[:3]
        self.data.ctrl[self._finger_act] = command[3] / 2

    def _hand_pos(self) -> NDArray[np.float64]:
        return np.array(self.data.qpos[self._hand_qpos], dtype=np.float64)

    def _opening(self) -> float:
        return float(self.data.qpos[self._finger_qpos].sum())

    def _peg_bottom_z(self) -> float:
        rot = self.data.xmat[self._peg_body].reshape(3, 3)
        half = np.array([self.scene.peg_side, self.scene.peg_side, self.scene.peg_length]) / 2
        return float(self.data.xpos[self._peg_body][2] - np.abs(rot[2]) @ half)

    def _is_success(self) -> bool:
        peg_xy = self.data.qpos[self._peg_qpos : self._peg_qpos + 2]
        over_hole = float(np.max(np.abs(peg_xy - self._socket_xy))) <= self.scene.hole_half
        deep = self._peg_bottom_z() <= self.scene.socket_height - self.config.success_depth_m
        return over_hole and deep

    def _observe(self) -> Obs:
        if self._camera is None:
            raise RuntimeError("the env is closed")
        self._camera.update_scene(self.data, camera=SCENE_CAMERA)
        rng = self.np_random if self.config.tactile_noise else None
        readings = {pad: s.read(self.model, self.data, rng) for pad, s in self._sensors.items()}
        self._depths = {pad: r.depth for pad, r in readings.items()}
        return {
            "rgb.scene": self._camera.render(),
            "tactile.left": readings[PADS[0]].image,
            "tactile.right": readings[PADS[1]].image,
            "proprio.ee_pos": self._hand_pos().astype(np.float32),
            "proprio.gripper": np.array([self._opening()], dtype=np.float32),
        }

    def _info(self, success: bool) -> dict[str, Any]:
        forces = self.pad_forces()
        return {"is_success": success, **{f"force.{pad}": f for pad, f in forces.items()}}
