"""Teleoperation targets: a key moves one step; a SpaceMouse moves at a speed proportional to
its deflection, turns the arm's rot6d about the base axes, and leaves a gantry's pose alone."""

from __future__ import annotations

import numpy as np

from drivers.rotations import matrix_from_axis_angle, matrix_from_rot6d, rot6d_from_matrix
from launch.teleop import MAX_RATE_RAD_S, MAX_SPEED_M_S, Teleop


def test_keys_step_and_the_gripper_toggles() -> None:
    teleop = Teleop(np.array([0.1, 0.2, 0.3], np.float32), width=0.04)
    for char in "uuk":
        teleop.press(char)
    teleop.press("g")
    assert np.allclose(teleop.action(), [0.095, 0.2, 0.31, 0.0])


def test_a_spacemouse_moves_at_its_deflection_and_turns_the_arms_pose() -> None:
    pose = np.array([0.3, 0.0, 0.2, *rot6d_from_matrix(np.eye(3))], np.float32)
    teleop = Teleop(pose, width=0.0)
    for _ in range(10):  # a second at 10 Hz: half deflection forward, full yaw
        teleop.drive(np.array([0.5, 0.0, 0.0]), np.array([0.0, 0.0, 1.0]), 0.1)
    action = teleop.action()
    assert np.allclose(action[:3], [0.3 + 0.5 * MAX_SPEED_M_S, 0.0, 0.2], atol=1e-6)
    expected = matrix_from_axis_angle([0.0, 0.0, MAX_RATE_RAD_S])
    assert np.allclose(matrix_from_rot6d(action[3:9].astype(np.float64)), expected, atol=1e-5)


def test_a_gantry_takes_only_the_translation() -> None:
    teleop = Teleop(np.zeros(3, np.float32), width=0.0)
    teleop.drive(np.array([0.0, -1.0, 0.0]), np.array([1.0, 1.0, 1.0]), 0.5)
    assert np.allclose(teleop.action(), [0.0, -0.5 * MAX_SPEED_M_S, 0.0, 0.0])
