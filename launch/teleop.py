"""Teleoperation of the end effector, for `vitac record --source keyboard|spacemouse`.

The target starts where the tool is (the episode's first proprioception: the TCP pose and
the gripper's opening). Each key moves it one step in the base frame:

    i / k   +x / -x        j / l   +y / -y        u / o   +z / -z        g   close / open

A SpaceMouse (drivers/spacemouse.py) drives it at a speed proportional to the cap's
deflection, up to `MAX_SPEED_M_S` and `MAX_RATE_RAD_S` (rotations about the base frame's
axes, for the arm's rot6d pose; the gantry has none); its left button closes or opens.

The action is the target as the task takes it: the pose observation's numbers (position,
and the arm's rot6d, held) followed by the gripper width. It passes through the safety
supervisor like a policy's.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from drivers.kinematics import MAX_OPENING_M
from drivers.rotations import matrix_from_axis_angle, matrix_from_rot6d, rot6d_from_matrix

KEYS = "ikjluog"
MOVES = {"i": (0, 1.0), "k": (0, -1.0), "j": (1, 1.0), "l": (1, -1.0), "u": (2, 1.0),
         "o": (2, -1.0)}  # fmt: skip
POSE_KEYS = ("proprio.ee_pose", "proprio.ee_pos")  # the arm twin's (9,), the gantry's (3,)
GRIPPER_KEY = "proprio.gripper"
HELP = "teleop: i/k x, j/l y, u/o z (one step a key), g close/open"
MAX_SPEED_M_S = 0.05  # the target's speed at full deflection of a SpaceMouse
MAX_RATE_RAD_S = 0.5


class Teleop:
    def __init__(self, pose: NDArray[np.float32], width: float, step_m: float = 0.005) -> None:
        """`pose`: the tool's pose observation now; `width`: the gripper's opening now."""
        self.target = np.asarray(pose, np.float32).copy()
        self.width, self.step_m = float(width), step_m

    def press(self, char: str) -> None:
        if char == "g":
            self.width = 0.0 if self.width > 0.0 else MAX_OPENING_M  # (the task clips it)
        elif char in MOVES:
            axis, sign = MOVES[char]
            self.target[axis] += sign * self.step_m

    def drive(self, translation: NDArray[np.float64], rotation: NDArray[np.float64],
              dt: float) -> None:  # fmt: skip
        """Move the target for `dt` s at these deflections ((3,) each, in [-1, 1])."""
        self.target[:3] += (np.asarray(translation) * MAX_SPEED_M_S * dt).astype(np.float32)
        if len(self.target) == 9 and np.any(rotation):  # the arm: rotate its rot6d
            turn = matrix_from_axis_angle(np.asarray(rotation) * MAX_RATE_RAD_S * dt)
            now = matrix_from_rot6d(self.target[3:9].astype(np.float64))
            self.target[3:9] = rot6d_from_matrix(turn @ now)

    def action(self) -> NDArray[np.float32]:
        return np.array([*self.target, self.width], np.float32)


def pose_key(observations: set[str]) -> str:
    """The observation that holds the tool's pose; ValueError if the task has none."""
    for key in POSE_KEYS:
        if key in observations:
            return key
    raise ValueError(f"keyboard teleoperation needs the tool's pose ({' or '.join(POSE_KEYS)})")
