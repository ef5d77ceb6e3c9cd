"""The arm controller (sim.tasks.arm_control): holding still, rate limits, delta actions,
workspace clipping and clear errors for bad actions."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.kinematics import top_down_rotation
from drivers.rotations import matrix_from_rot6d, rotation_error
from sim.tasks.lift import LiftEnv


def test_hold_keeps_the_tcp_still(lift: LiftEnv) -> None:
    lift.reset(seed=1)
    start, _ = lift.tcp_pose()
    for _ in range(10):
        lift.step(lift.hold_action())
    end, _ = lift.tcp_pose()
    assert float(np.linalg.norm(end - start)) < 5e-4


def test_absolute_pose_targets_are_reached_at_the_rate_limit(lift: LiftEnv) -> None:
    lift.reset(seed=2)
    start, _ = lift.tcp_pose()
    goal, goal_rot = start + np.array([0.05, -0.04, -0.05]), top_down_rotation(0.6)
    action = lift.pose_action(goal, goal_rot, 0.03)
    lift.step(action)
    moved = lift.privileged_state()["command_pos"] - start
    assert float(np.linalg.norm(moved)) == pytest.approx(lift.config.max_step_m, abs=1e-4)
    for _ in range(15):
        lift.step(action)
    pos, rot = lift.tcp_pose()
    assert float(np.linalg.norm(pos - goal)) < 1e-3
    assert float(np.linalg.norm(rotation_error(goal_rot, rot))) < 0.01
    assert lift.privileged_state()["gripper"][0] == pytest.approx(0.03, abs=1e-3)


def test_delta_actions_move_along_the_commanded_direction() -> None:
    env = LiftEnv({"action_mode": "delta_pose", "randomize": False})
    try:
        obs, _ = env.reset(seed=0)
        assert env.action_space.shape == (7,)
        start = obs["proprio.ee_pose"][:3].astype(np.float64)
        rot0 = matrix_from_rot6d(obs["proprio.ee_pose"][3:])
        step = np.array([0.01, 0.0, 0.0, 0.0, 0.0, 0.1, 0.07], dtype=np.float32)
        for _ in range(3):
            obs, *_ = env.step(step)
        for _ in range(5):
            obs, *_ = env.step(env.hold_action())
        moved = obs["proprio.ee_pose"][:3] - start
        np.testing.assert_allclose(moved, [0.03, 0, 0], atol=1e-3)
        turn = rotation_error(matrix_from_rot6d(obs["proprio.ee_pose"][3:]), rot0)
        np.testing.assert_allclose(turn, [0, 0, 0.3], atol=0.01)
    finally:
        env.close()


def test_targets_are_clipped_to_the_workspace(lift: LiftEnv) -> None:
    lift.reset(seed=0)
    far = lift.pose_action(np.array([0.9, 0.0, -0.5]), top_down_rotation(0.0), 0.07)
    for _ in range(40):
        lift.step(far)
    cmd = lift.privileged_state()["command_pos"]
    assert cmd[0] == pytest.approx(lift.config.workspace_high[0], abs=1e-4)
    assert cmd[2] == pytest.approx(lift.config.workspace_low[2], abs=1e-4)


def test_bad_actions_are_clear_errors(lift: LiftEnv) -> None:
    lift.reset(seed=0)
    with pytest.raises(ValueError, match=r"shape \(10,\)"):
        lift.step(np.zeros(7, dtype=np.float32))
    with pytest.raises(ValueError, match="finite"):
        lift.step(np.full(10, np.nan, dtype=np.float32))
    with pytest.raises(ValueError, match="degenerate"):
        lift.step(np.zeros(10, dtype=np.float32))
