"""What an arm task observes: its cameras, the two tactile pads and the robot's own state.

Observation (dict; keys and layout from `ArmObserver.spec`):
    rgb.<camera> (S, S, 3) uint8 for each of `config.cameras`; depth.<camera> (S, S) uint16
    millimetres (as a RealSense streams it) for each of `config.depth_cameras`;
    tactile.left / tactile.right (H, W, 3) uint8; proprio.ee_pose (9,) float32 [TCP position,
    rot6d]; proprio.gripper (1,) pad opening (m); proprio.joints (6,) arm joint angles (rad);
    proprio.ee_command (9,) the TCP pose the servos are commanded to (the last action as the
    controller took it, after clipping and rate limits; FK of the joint targets), what a real
    arm's goal registers hold.
The pads' readings behind the last tactile images (depth maps, normal forces) stay available
until the next observation.
"""

from __future__ import annotations

from typing import Any

import mujoco
import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import MAX_OPENING_M, PAD_SITES
from drivers.rotations import rot6d_from_matrix
from drivers.spec import FieldSpec
from sim.tactile import TactileReading, TactileSensor
from sim.tasks.arm_config import ArmTaskConfig
from sim.tasks.arm_control import ArmController

Obs = dict[str, NDArray[Any]]
F64 = NDArray[np.float64]
TACTILE_KEYS = ("tactile.left", "tactile.right")  # one per pad of PAD_SITES


class ArmObserver:
    """Renders the cameras, reads the tactile pads and the arm's state of `data` into an `Obs`.

    The joints and gripper it reports are those `controller` drives.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        data: mujoco.MjData,
        config: ArmTaskConfig,
        controller: ArmController,
    ) -> None:
        self.model, self.data, self.config, self.controller = model, data, config, controller
        self.sensors = [
            TactileSensor(
                model,
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
            model, config.image_size, config.image_size
        )
        fast_flags(self._renderer)
        self._depth_renderer: mujoco.Renderer | None = None
        if config.depth_cameras:
            self._depth_renderer = mujoco.Renderer(model, config.image_size, config.image_size)
            self._depth_renderer.enable_depth_rendering()
        self._tcp = controller.kinematics.site_id
        self.readings: list[TactileReading] = []

    def spec(self) -> dict[str, FieldSpec]:
        """Key -> per-frame layout of each observation."""
        cfg, s = self.config, self.config.image_size
        spec: dict[str, FieldSpec] = {}
        for cam in cfg.cameras:
            spec[f"rgb.{cam}"] = FieldSpec(shape=(s, s, 3), dtype="uint8", units="rgb", sensor=cam)
        for cam in cfg.depth_cameras:
            spec[f"depth.{cam}"] = FieldSpec(shape=(s, s), dtype="uint16", units="mm", sensor=cam)
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
        spec["proprio.ee_command"] = FieldSpec(
            shape=(9,), dtype="float32", units="m,rot6d", sensor="arm"
        )
        return spec

    def bounds(self) -> dict[str, tuple[F64, F64]]:
        """(low, high) of the non-image keys: proprioception a little beyond its range."""
        lim = self.controller.kinematics.limits
        return {
            "proprio.ee_pose": (np.full(9, -1.5), np.full(9, 1.5)),
            "proprio.gripper": (np.array([-0.01]), np.array([MAX_OPENING_M + 0.02])),
            "proprio.joints": (lim[:, 0] - 0.3, lim[:, 1] + 0.3),
            "proprio.ee_command": (np.full(9, -1.5), np.full(9, 1.5)),
        }

    def observe(self, noise_rng: np.random.Generator | None) -> Obs:
        """The observation of the current state; tactile noise from `noise_rng` (None: none)."""
        if self._renderer is None:
            raise RuntimeError("the env is closed")
        obs: Obs = {}
        for cam in self.config.cameras:
            self._renderer.update_scene(self.data, camera=cam)
            obs[f"rgb.{cam}"] = self._renderer.render()
        if self._depth_renderer is not None:
            for cam in self.config.depth_cameras:
                self._depth_renderer.update_scene(self.data, camera=cam)
                metres = self._depth_renderer.render()  # (S, S) float32, distance along the axis
                obs[f"depth.{cam}"] = depth_millimetres(metres)
        self.readings = [s.read(self.model, self.data, noise_rng) for s in self.sensors]
        for key, reading in zip(TACTILE_KEYS, self.readings, strict=True):
            obs[key] = reading.image
        pos, rot = self.tcp_pose()
        obs["proprio.ee_pose"] = np.concatenate([pos, rot6d_from_matrix(rot)]).astype(np.float32)
        obs["proprio.gripper"] = np.array([self.controller.opening()], dtype=np.float32)
        obs["proprio.joints"] = self.data.qpos[self.controller.arm_qpos].astype(np.float32)
        command = [self.controller.pos_cmd, rot6d_from_matrix(self.controller.rot_cmd)]
        obs["proprio.ee_command"] = np.concatenate(command).astype(np.float32)
        return obs

    def pad_forces(self) -> dict[str, float]:
        """`force.<pad site>`: each pad's normal force (N) in the last observation."""
        return {
            f"force.{site}": reading.normal_force
            for site, reading in zip(PAD_SITES, self.readings, strict=True)
        }

    def tcp_pose(self) -> tuple[F64, F64]:
        """Measured TCP position (3,) and rotation (3, 3)."""
        pos = self.data.site_xpos[self._tcp].copy()
        return pos, self.data.site_xmat[self._tcp].reshape(3, 3).copy()

    def close(self) -> None:
        for renderer in (self._renderer, self._depth_renderer):
            if renderer is not None:
                renderer.close()
        self._renderer = self._depth_renderer = None


def fast_flags(renderer: mujoco.Renderer) -> None:
    """Shadows and reflections off: on llvmpipe they cost more than the rest of the frame."""
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_SHADOW] = 0
    renderer.scene.flags[mujoco.mjtRndFlag.mjRND_REFLECTION] = 0


def depth_millimetres(metres: np.ndarray) -> np.ndarray:
    """A depth image as a RealSense streams it (z16): uint16 millimetres, 0 = no reading."""
    millimetres = np.rint(np.nan_to_num(metres, nan=0.0) * 1000.0)
    out: np.ndarray = np.clip(millimetres, 0, np.iinfo(np.uint16).max).astype(np.uint16)
    return out
