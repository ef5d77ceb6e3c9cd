"""Training data as the policy reads it, here with a RealSense-style depth camera: a lift
store with depth.scene (uint16 mm) trains a diffusion policy that then acts in the env."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from policies import load_policy
from sim import make_env
from sim.tasks.lift import LiftConfig
from tests.policies.conftest import tiny_policy_config
from training.collect import CollectConfig, collect
from training.dataset import load_datasets
from training.trainer import TrainConfig, train

TASK = LiftConfig(
    image_size=32,
    tactile_size=(16, 16),
    cameras=("scene",),
    depth_cameras=("scene",),
    render_height=48,
    render_width=64,
)
KEYS = ["depth.scene", "rgb.scene", "proprio.ee_pose", "proprio.gripper"]


def test_depth_images_train_a_policy_that_then_acts(tmp_path: Path) -> None:
    store = collect("lift", TASK, CollectConfig(episodes=2), tmp_path / "d.zarr", False).path
    policy_config = tiny_policy_config("diffusion")
    train_set, _, io, _ = load_datasets(store, policy_config, KEYS, 0.0, 0)
    assert io.depth_keys == ["depth.scene"] and io.obs_shapes["depth.scene"] == (32, 32)
    batch = train_set.batch(np.arange(3))
    assert batch["depth.scene"].dtype == torch.uint16
    assert batch["depth.scene"].shape == (3, policy_config.n_obs_steps, 32, 32)
    config = TrainConfig(steps=2, batch_size=4, val_ratio=0.0, warmup_steps=1, obs_keys=KEYS)
    result = train(policy_config, config, store, tmp_path / "run", progress=False)
    policy = load_policy(result.checkpoint)
    env = make_env("lift", TASK)
    try:
        obs, _ = env.reset(seed=5)
        action = policy.select_action(obs)
        assert action.shape == env.action_space.shape and np.isfinite(action).all()
    finally:
        env.close()
