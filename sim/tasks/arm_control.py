"""The arm's controller: actions to TCP targets, rate limits, IK, ramped servo targets.

Action (float32), `config.action_mode`:
    "abs_pose"   (10,) [x, y, z, rot6d (6), gripper_width]: absolute TCP target in the world.
    "delta_pose" (7,)  [dx, dy, dz, rx, ry, rz, gripper_width]: a step from the commanded pose,
                       the rotation as a world-frame axis-angle (drivers.rotations).
    Both are metres / radians; the box is [-1, 1] per component (check_env's recommendation).

`ArmController.step`: the target is clipped to the workspace, then moved from the current
commanded pose by at most `max_step_m` and `max_rot_step_rad`; IK (drivers.kinematics,
warm-started from the joint command) turns it into joint targets that the position servos
track, ramped linearly over the control period; each finger's target is half the width
(0 squeezes hardest).
"""

from __future__ import annotations

import mujoco
import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import (
    ARM_JOINTS,
    FINGER_ACTUATORS,
    FINGER_JOINTS,
    MAX_OPENING_M,
    ArmKinematics,
    named_id,
)
from drivers.poses import POSES
from drivers.rotations import (
    matrix_from_axis_angle,
    matrix_from_rot6d,
    rot6d_from_matrix,
    rotation_error,
)
from sim.tasks.arm_config import ArmTaskConfig

F64 = NDArray[np.float64]
ACTION_DIMS = {"abs_pose": 10, "delta_pose": 7}
HOME_SEED = np.array(POSES["home"])  # elbow-up, TCP pointing down


class ArmController:
    """Turns actions into servo targets for the arm and gripper of `model` and runs the physics.

    It keeps the commanded state: the joint targets `q_cmd` the servos track, their TCP pose
    (`pos_cmd`, `rot_cmd`, by FK) and the gripper width `width_cmd`.
    """

    def __init__(self, model: mujoco.MjModel, data: mujoco.MjData, config: ArmTaskConfig) -> None:
        self.model, self.data, self.config = model, data, config
        self.kinematics = ArmKinematics(model)
        m = model
        self.arm_qpos = self.kinematics.qpos_adr
        self._arm_act = np.array([named_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, j) for j in ARM_JOINTS])
        self.finger_qpos = np.array(
            [m.jnt_qposadr[named_id(m, mujoco.mjtObj.mjOBJ_JOINT, j)] for j in FINGER_JOINTS]
        )
        self._finger_act = np.array(
            [named_id(m, mujoco.mjtObj.mjOBJ_ACTUATOR, a) for a in FINGER_ACTUATORS]
        )
        self._low, self._high = np.array(config.workspace_low), np.array(config.workspace_high)
        self.q_cmd = HOME_SEED.copy()
        self.pos_cmd, self.rot_cmd = self.kinematics.fk(self.q_cmd)
        self.width_cmd = 0.0

    def home(self, position: F64, rotation: F64, width: float) -> None:
        """Put the arm at this TCP pose (IK from `HOME_SEED`) and the fingers at `width`, and
        command the servos to stay there (no physics steps)."""
        self.q_cmd = self.kinematics.ik(position, rotation, HOME_SEED).q
        self.pos_cmd, self.rot_cmd = self.kinematics.fk(self.q_cmd)
        self.width_cmd = float(width)
        self.data.qpos[self.arm_qpos] = self.q_cmd
        self.data.qpos[self.finger_qpos] = width / 2
        self._set_ctrl(self.q_cmd, self.width_cmd)

    def command_width(self, width: float) -> None:
        """Command the gripper to `width` at once; the arm's targets stay."""
        self.width_cmd = float(width)
        self._set_ctrl(self.q_cmd, self.width_cmd)

    def step(self, action: F64) -> None:
        """One control period: decode `action`, then ramp the servo targets over the substeps."""
        pos, rot, width = self.decode(action)
        q_target = self.kinematics.ik(pos, rot, self.q_cmd).q
        q_start, width_start, n = self.q_cmd, self.width_cmd, self.config.substeps
        for k in range(1, n + 1):
            f = k / n
            self._set_ctrl(
                q_start + (q_target - q_start) * f, width_start + (width - width_start) * f
            )
            mujoco.mj_step(self.model, self.data)
        mujoco.mj_forward(self.model, self.data)
        self.q_cmd, self.width_cmd = q_target, width
        self.pos_cmd, self.rot_cmd = self.kinematics.fk(q_target)

    def decode(self, action: F64) -> tuple[F64, F64, float]:
        """Decode, clip and rate-limit an action into a TCP target and a gripper width."""
        cfg = self.config
        dims = ACTION_DIMS[cfg.action_mode]
        if action.shape != (dims,):
            raise ValueError(f"{cfg.action_mode} actions have shape ({dims},), got {action.shape}")
        if not np.all(np.isfinite(action)):
            raise ValueError(f"action must be finite, got {action}")
        if cfg.action_mode == "abs_pose":
            pos, rot, width = action[:3], matrix_from_rot6d(action[3:9]), float(action[9])
        else:
            pos = self.pos_cmd + action[:3]
            rot = matrix_from_axis_angle(action[3:6]) @ self.rot_cmd
            width = float(action[6])
        pos = np.clip(pos, self._low, self._high)
        step = pos - self.pos_cmd
        dist = float(np.linalg.norm(step))
        if dist > cfg.max_step_m:
            pos = self.pos_cmd + step * (cfg.max_step_m / dist)
        turn = rotation_error(rot, self.rot_cmd)
        angle = float(np.linalg.norm(turn))
        if angle > cfg.max_rot_step_rad:
            rot = matrix_from_axis_angle(turn * (cfg.max_rot_step_rad / angle)) @ self.rot_cmd
        return pos, rot, float(np.clip(width, 0.0, MAX_OPENING_M))

    def hold_action(self) -> NDArray[np.float32]:
        """The action that keeps the arm and gripper where they are commanded to be."""
        if self.config.action_mode == "delta_pose":
            return np.array([0.0] * 6 + [self.width_cmd], dtype=np.float32)
        return self.pose_action(self.pos_cmd, self.rot_cmd, self.width_cmd)

    def pose_action(self, position: F64, rotation: F64, width: float) -> NDArray[np.float32]:
        """An action (in the configured mode) whose target is this TCP pose and width."""
        if self.config.action_mode == "delta_pose":
            delta_rot = rotation_error(rotation, self.rot_cmd)
            out = [*(np.asarray(position) - self.pos_cmd), *delta_rot, width]
            return np.array(out, dtype=np.float32)
        return np.array([*position, *rot6d_from_matrix(rotation), width], dtype=np.float32)

    def opening(self) -> float:
        """The measured gap between the pads (m)."""
        return float(self.data.qpos[self.finger_qpos].sum())

    def _set_ctrl(self, q: F64, width: float) -> None:
        self.data.ctrl[self._arm_act] = q
        self.data.ctrl[self._finger_act] = width / 2
