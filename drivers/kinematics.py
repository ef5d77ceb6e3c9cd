"""Forward and inverse kinematics of the rig arm, read from its one MJCF description.

`ARM_MJCF` (drivers/assets/wx250s_tactile.xml) is the single kinematic description of the arm.
It lives in drivers/, the bottom layer, so that both users can read it: the real arm driver
(joint angles <-> tool pose, through `ArmKinematics`) and the simulated rig (`sim` includes the
file in its scenes and uses the same `ArmKinematics` for its controller). Joint axes, link
offsets and joint limits therefore exist once.

`ArmKinematics` runs on a private `MjData`, so it never disturbs a simulation. It can be built
over the standalone arm file or over any scene model that includes it (the arm's base is the
world origin in both). IK is damped least squares on the 6-D pose error with joint limits
enforced at every iteration, warm-started from a seed (normally the current joint command),
which keeps successive solutions continuous.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mujoco
import numpy as np
from numpy.typing import ArrayLike, NDArray

from drivers.rotations import rotation_error

F64 = NDArray[np.float64]

ARM_MJCF = Path(__file__).parent / "assets" / "wx250s_tactile.xml"
ARM_JOINTS = ("waist", "shoulder", "elbow", "forearm_roll", "wrist_angle", "wrist_rotate")
FINGER_JOINTS = ("left_finger", "right_finger")
FINGER_ACTUATORS = FINGER_JOINTS
TCP_SITE = "grasp"
PAD_SITES = ("left_pad", "right_pad")  # also the pad geom names
WRIST_CAMERA = "wrist"
ROBOT_GROUP = 1  # geom group of every robot geom; tactile rays skip it
MAX_OPENING_M = 0.074  # largest opening between the pads (2 x finger joint range)


@dataclass(frozen=True)
class IKResult:
    q: F64  # (6,) joint angles, rad, inside the joint limits
    position_error: float  # metres, |target - reached|
    rotation_error: float  # radians
    iterations: int

    def converged(self, position_tol: float = 1e-4, rotation_tol: float = 1e-3) -> bool:
        return self.position_error <= position_tol and self.rotation_error <= rotation_tol


class ArmKinematics:
    """FK, Jacobian and IK of the tool centre point `TCP_SITE` over the arm joints."""

    def __init__(self, model: mujoco.MjModel | None = None) -> None:
        self.model = model if model is not None else mujoco.MjModel.from_xml_path(str(ARM_MJCF))
        self._data = mujoco.MjData(self.model)
        m = self.model
        joint_ids = [named_id(m, mujoco.mjtObj.mjOBJ_JOINT, j) for j in ARM_JOINTS]
        self.qpos_adr = np.array([m.jnt_qposadr[j] for j in joint_ids])
        self.dof_adr = np.array([m.jnt_dofadr[j] for j in joint_ids])
        self.limits: F64 = np.array([m.jnt_range[j] for j in joint_ids], dtype=np.float64)  # (6,2)
        self.site_id = named_id(m, mujoco.mjtObj.mjOBJ_SITE, TCP_SITE)
        self._jacp = np.zeros((3, m.nv))
        self._jacr = np.zeros((3, m.nv))

    def clip(self, q: ArrayLike) -> F64:
        """`q` (6,) clipped into the joint limits."""
        out: F64 = np.clip(np.asarray(q, dtype=np.float64), self.limits[:, 0], self.limits[:, 1])
        return out

    def fk(self, q: ArrayLike) -> tuple[F64, F64]:
        """Joint angles (6,) -> TCP position (3,) m and rotation matrix (3, 3) in the base frame."""
        self._set(q)
        pos = self._data.site_xpos[self.site_id].copy()
        rot = self._data.site_xmat[self.site_id].reshape(3, 3).copy()
        return pos, rot

    def jacobian(self, q: ArrayLike) -> F64:
        """(6, 6) geometric Jacobian [linear; angular] of the TCP w.r.t. the arm joints."""
        self._set(q)
        return self._jacobian()

    def ik(
        self,
        position: ArrayLike,
        rotation: ArrayLike,
        seed: ArrayLike,
        max_iterations: int = 50,
        damping: float = 0.02,
        rotation_weight: float = 0.2,
        position_tol: float = 1e-5,
        rotation_tol: float = 1e-4,
    ) -> IKResult:
        """Joint angles that put the TCP at `position` (3,) with `rotation` (3, 3).

        Damped least squares from `seed` (6,). The rotation error is weighted by
        `rotation_weight` metres per radian against the position error. Unreachable targets give
        the closest pose found (check `position_error` / `rotation_error`).
        """
        target_pos = np.asarray(position, dtype=np.float64).reshape(3)
        target_rot = np.asarray(rotation, dtype=np.float64).reshape(3, 3)
        q = self.clip(np.asarray(seed, dtype=np.float64).reshape(6))
        weights = np.array([1.0] * 3 + [rotation_weight] * 3)
        pos_err = rot_err = np.inf
        it = 0
        for it in range(1, max_iterations + 1):  # noqa: B007 (reported)
            self._set(q)
            err = np.concatenate(
                [
                    target_pos - self._data.site_xpos[self.site_id],
                    rotation_error(target_rot, self._data.site_xmat[self.site_id].reshape(3, 3)),
                ]
            )
            pos_err, rot_err = float(np.linalg.norm(err[:3])), float(np.linalg.norm(err[3:]))
            if pos_err <= position_tol and rot_err <= rotation_tol:
                break
            jac = self._jacobian() * weights[:, None]  # (6, 6) weighted
            e = err * weights
            dq = jac.T @ np.linalg.solve(jac @ jac.T + damping**2 * np.eye(6), e)
            q = self.clip(q + dq)
        return IKResult(q, pos_err, rot_err, it)

    def _set(self, q: ArrayLike) -> None:
        self._data.qpos[self.qpos_adr] = np.asarray(q, dtype=np.float64).reshape(6)
        mujoco.mj_kinematics(self.model, self._data)
        mujoco.mj_comPos(self.model, self._data)

    def _jacobian(self) -> F64:
        mujoco.mj_jacSite(self.model, self._data, self._jacp, self._jacr, self.site_id)
        out: F64 = np.concatenate([self._jacp[:, self.dof_adr], self._jacr[:, self.dof_adr]])
        return out


def top_down_rotation(yaw: float) -> F64:
    """TCP rotation with the approach axis (z) straight down and the closing axis (y) at `yaw`.

    `yaw` (rad) is the angle of the TCP's y axis from world +y about world +z.
    """
    c, s = np.cos(yaw), np.sin(yaw)
    y = np.array([-s, c, 0.0])
    z = np.array([0.0, 0.0, -1.0])
    out: F64 = np.stack([np.cross(y, z), y, z], axis=-1)
    return out


def named_id(model: mujoco.MjModel, kind: mujoco.mjtObj, name: str) -> int:
    """Index of the `kind` object called `name` (a site, geom, joint, ...); ValueError if none."""
    index = int(mujoco.mj_name2id(model, kind, name))
    if index < 0:
        kind_name = kind.name.removeprefix("mjOBJ_").lower()
        raise ValueError(f"the model has no {kind_name} named {name!r}")
    return index
