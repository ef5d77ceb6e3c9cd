"""Domain randomisation of an arm task's scene, drawn from the episode's generator.

Drawn in a fixed order, so that a reset seed always gives the same scene: light intensity and
direction, colours and friction of the table and the task's geoms, mass and inertia of the
task's bodies, each tactile pad's reference (no-contact) frame, and the scene camera's pose.
`DomainRandomizer.restore` puts the nominal model values back before every draw.
"""

from __future__ import annotations

from collections.abc import Sequence

import mujoco
import numpy as np

from drivers.kinematics import named_id
from drivers.rotations import matrix_from_axis_angle, matrix_from_quat, quat_from_matrix
from sim.tactile import TactileSensor

RANDOMIZED_FIELDS = (  # MjModel fields `DomainRandomizer.randomize` changes
    "light_diffuse",
    "light_dir",
    "geom_rgba",
    "geom_friction",
    "body_mass",
    "body_inertia",
    "cam_pos",
    "cam_quat",
)


class DomainRandomizer:
    """Randomises `model` (lights, `geoms` besides the table, `bodies`, `camera`) and `sensors`.

    The nominal values are the model's at construction.
    """

    def __init__(
        self,
        model: mujoco.MjModel,
        sensors: Sequence[TactileSensor],
        geoms: Sequence[str],
        bodies: Sequence[str],
        camera: str,
    ) -> None:
        self.model, self.sensors = model, sensors
        self.geoms, self.bodies, self.camera = tuple(geoms), tuple(bodies), camera
        self._nominal = {f: np.array(getattr(model, f), copy=True) for f in RANDOMIZED_FIELDS}

    def restore(self) -> None:
        """The nominal model values and each sensor's own reference frame."""
        for field, value in self._nominal.items():
            getattr(self.model, field)[:] = value
        for sensor in self.sensors:
            sensor.reset_reference()

    def randomize(self, rng: np.random.Generator) -> None:
        """Draw a scene from `rng`, always in the same order (on top of the current values)."""
        m = self.model
        m.light_diffuse[:] *= rng.uniform(0.7, 1.3, (m.nlight, 1))
        light_dir = m.light_dir + rng.uniform(-0.15, 0.15, (m.nlight, 3))
        m.light_dir[:] = light_dir / np.linalg.norm(light_dir, axis=1, keepdims=True)
        colour_geoms = [named_id(m, mujoco.mjtObj.mjOBJ_GEOM, g) for g in ("table", *self.geoms)]
        for g in colour_geoms:
            m.geom_rgba[g, :3] = np.clip(m.geom_rgba[g, :3] * rng.uniform(0.75, 1.25, 3), 0, 1)
            m.geom_friction[g, 0] *= rng.uniform(0.8, 1.2)
        for name in self.bodies:
            b = named_id(m, mujoco.mjtObj.mjOBJ_BODY, name)
            scale = rng.uniform(0.8, 1.2)
            m.body_mass[b] *= scale
            m.body_inertia[b] *= scale
        for sensor in self.sensors:
            sensor.randomize_reference(rng)
        cam = named_id(m, mujoco.mjtObj.mjOBJ_CAMERA, self.camera)
        m.cam_pos[cam] += rng.uniform(-0.01, 0.01, 3)
        turn = matrix_from_axis_angle(rng.uniform(-0.02, 0.02, 3))
        m.cam_quat[cam] = quat_from_matrix(turn @ matrix_from_quat(m.cam_quat[cam]))
