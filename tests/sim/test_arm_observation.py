"""The arm tasks' observations (sim.tasks.arm_observation): the spec, depth cameras and the
tactile sensors' native size."""

from __future__ import annotations

import numpy as np
import pytest

from sim.tasks.arm_observation import depth_millimetres
from sim.tasks.lift import LiftEnv
from sim.tasks.stack import StackEnv


def test_observations_match_the_spec(lift: LiftEnv) -> None:
    obs, info = lift.reset(seed=0)
    spec = lift.observation_spec()
    assert set(obs) == set(spec)
    for key, field in spec.items():
        field.check(key, obs[key])
    assert obs["rgb.scene"].shape == (84, 84, 3)
    assert obs["tactile.left"].shape == (60, 80, 3)
    assert set(info) == {"is_success", "force.left_pad", "force.right_pad"}


def test_depth_cameras_and_native_tactile_size() -> None:
    env = StackEnv(
        {"cameras": ("scene",), "depth_cameras": ("scene",), "tactile_size": None, "image_size": 32}
    )
    try:
        obs, _ = env.reset(seed=0)
        assert set(obs) >= {"rgb.scene", "depth.scene"} and "rgb.wrist" not in obs
        depth = obs["depth.scene"]
        assert depth.shape == (32, 32) and depth.dtype == np.uint16  # RealSense z16: mm
        assert 100 < float(np.median(depth)) < 2000  # millimetres from the camera to the table
        assert obs["tactile.left"].shape == (240, 320, 3)  # GelSight Mini native
    finally:
        env.close()


def test_depth_millimetres_rounds_clips_and_marks_missing_readings() -> None:
    metres = np.array([[0.0004, 0.0016, 1.2344], [70.0, np.nan, -1.0]], dtype=np.float32)
    assert depth_millimetres(metres).tolist() == [[0, 2, 1234], [65535, 0, 0]]
    assert depth_millimetres(metres).dtype == np.uint16


def test_the_commanded_pose_is_the_last_action_as_the_controller_took_it(lift: LiftEnv) -> None:
    """proprio.ee_command: the target the servos track (the measured pose lags behind it)."""
    obs, _ = lift.reset(seed=3)
    np.testing.assert_allclose(obs["proprio.ee_command"], obs["proprio.ee_pose"], atol=2e-3)
    target = obs["proprio.ee_command"].copy()
    target[:3] += [0.004, -0.003, 0.002]  # within one step's rate limit
    obs, *_ = lift.step(np.concatenate([target, [0.05]]).astype(np.float32))
    np.testing.assert_allclose(obs["proprio.ee_command"][:3], target[:3], atol=1e-4)  # IK
    np.testing.assert_allclose(obs["proprio.ee_command"][3:], target[3:], atol=1e-3)
    far = obs["proprio.ee_command"].copy()
    far[:3] += [0.5, 0.0, 0.0]  # beyond the rate limit: the command moves max_step_m
    obs, *_ = lift.step(np.concatenate([far, [0.05]]).astype(np.float32))
    moved = np.linalg.norm(obs["proprio.ee_command"][:3] - target[:3])
    assert moved == pytest.approx(lift.config.max_step_m, abs=1e-4)
