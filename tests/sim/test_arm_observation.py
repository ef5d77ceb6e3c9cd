"""The arm tasks' observations (sim.tasks.arm_observation): the spec, depth cameras and the
tactile sensors' native size."""

from __future__ import annotations

import numpy as np

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
        assert depth.shape == (32, 32) and depth.dtype == np.float32
        assert 0.1 < float(np.median(depth)) < 2.0  # metres from the camera to the table
        assert obs["tactile.left"].shape == (240, 320, 3)  # GelSight Mini native
    finally:
        env.close()
