"""Training data as the policy reads it, here with a RealSense-style depth camera: a lift
store with depth.scene (uint16 mm) trains a diffusion policy that then acts in the env."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from policies import PolicyConfig, load_policy
from policies.encoders import Preprocessing, TactileTransformer, save_encoder
from policies.tactile import T3Streams
from sensing.errors import DatasetError
from sensing.store import EpisodeStore
from sim import make_env
from sim.tasks.lift import LiftConfig
from tests.policies.conftest import tiny_policy_config
from tests.policies.test_tactile import ARCH
from training.collect import CollectConfig, collect
from training.dataset import cache_features, load_datasets
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
    _trains_and_acts(policy_config, store, KEYS, TASK, tmp_path)


def _trains_and_acts(
    policy_config: PolicyConfig, store: Path, keys: list[str], task: LiftConfig, tmp_path: Path
) -> None:
    """Two training steps on `store`, then the saved policy acts in the env: a finite action."""
    config = TrainConfig(steps=2, batch_size=4, val_ratio=0.0, warmup_steps=1, obs_keys=keys)
    result = train(policy_config, config, store, tmp_path / "run", progress=False)
    policy = load_policy(result.checkpoint)
    env = make_env("lift", task)
    try:
        obs, _ = env.reset(seed=5)
        action = policy.select_action(obs)
        assert action.shape == env.action_space.shape and np.isfinite(action).all()
    finally:
        env.close()


def test_cache_features_replaces_frames_by_their_encoding_in_batches() -> None:
    data = {"tactile.left": np.arange(10 * 2 * 2 * 3, dtype=np.uint8).reshape(10, 2, 2, 3)}
    data["proprio"] = np.zeros((10, 3), np.float32)
    calls: list[int] = []

    def encode(frames: torch.Tensor) -> torch.Tensor:
        calls.append(len(frames))
        return frames.flatten(1).double().sum(dim=1, keepdim=True)

    expected = data["tactile.left"].reshape(10, -1).sum(axis=1, keepdims=True)
    cache_features(data, ["tactile.left"], encode, batch=4)
    assert calls == [4, 4, 2] and data["tactile.left"].dtype == np.float32
    np.testing.assert_array_equal(data["tactile.left"], expected)
    assert data["proprio"].shape == (10, 3)


def test_a_frozen_tactile_transformer_is_run_once_per_frame_not_per_step(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    arch = ARCH  # the tactile tests' tiny architecture
    encoder = save_encoder(
        TactileTransformer(arch, {"mini": Preprocessing(resize=16, crop=16)}), tmp_path / "enc"
    )
    encoded: list[int] = []
    original = T3Streams.features
    monkeypatch.setattr(
        T3Streams, "features", lambda self, x: encoded.append(len(x)) or original(self, x)
    )
    policy = tiny_policy_config("bc", tactile_encoder="t3", t3={"checkpoint": str(encoder)})
    config = TrainConfig(steps=3, batch_size=4, val_ratio=0.25, warmup_steps=1, val_every=1)
    result = train(policy, config, demo_store, tmp_path / "run", progress=False)
    frames = EpisodeStore.open(demo_store).n_frames
    assert sum(encoded) == 2 * frames  # both pads' frames, once; none in the 3 steps
    loaded = load_policy(result.checkpoint)
    assert loaded.config.t3 is not None and loaded.config.t3.model == arch


def test_a_difference_encoder_without_base_frames_is_refused_before_training(
    demo_store: Path, tmp_path: Path
) -> None:
    """Its pads need their episode-first frames as references: an operator error (one line
    at `vitac train`), found with the data set's other checks."""
    contract = Preprocessing(resize=16, crop=16, difference=True)
    encoder = save_encoder(TactileTransformer(ARCH, {"mini": contract}), tmp_path / "enc")
    policy = tiny_policy_config("bc", tactile_encoder="t3", t3={"checkpoint": str(encoder)})
    config = TrainConfig(steps=1, batch_size=4, val_ratio=0.25, warmup_steps=1, val_every=1)
    with pytest.raises(DatasetError, match=r"add \[.*'tactile.left'.*\] to policy.base_frame_keys"):
        train(policy, config, demo_store, tmp_path / "run", progress=False)


def test_a_relative_policy_trains_on_its_windows_and_acts_in_absolute_poses(
    tmp_path: Path,
) -> None:
    """policy.relative_to: the trainer fits the normaliser on every window's chunk relative to
    its current pose (and relative_inputs' on every window's offsets); the policy acts near
    the arm, not near the origin."""
    task = TASK.model_copy(update={"depth_cameras": ()})
    store = collect("lift", task, CollectConfig(episodes=2), tmp_path / "d.zarr", False).path
    keys = ["rgb.scene", "proprio.ee_pose", "proprio.gripper"]
    for ref, problem in (("proprio.gripper", "at least 3 numbers"), ("task.none", "inputs")):
        with pytest.raises(DatasetError, match=problem):
            load_datasets(store, tiny_policy_config("bc", relative_to=ref), keys, 0.0, 0)
    for inputs, problem in (({"proprio.gripper": 2}, "at least 2"), ({"task.none": 1}, "inputs")):
        config = tiny_policy_config("bc", relative_to="proprio.ee_pose", relative_inputs=inputs)
        with pytest.raises(DatasetError, match=problem):
            load_datasets(store, config, keys, 0.0, 0)
    policy_config = tiny_policy_config(
        "bc", relative_to="proprio.ee_pose", relative_inputs={"proprio.ee_pose": 3}
    )
    config = TrainConfig(steps=2, batch_size=4, val_ratio=0.0, warmup_steps=1, obs_keys=keys)
    result = train(policy_config, config, store, tmp_path / "run", progress=False)
    policy = load_policy(result.checkpoint)
    train_set, _, _, _ = load_datasets(store, policy_config, keys, 0.0, 0)
    windows = train_set.chunks(policy_config)
    assert windows is not None
    relative = policy.training_actions(windows)  # (W, T_p, D_a)
    normalised = policy.normalizer.normalize("action", relative)[..., :3]
    assert normalised.min() == pytest.approx(-1.0, abs=1e-5)  # fitted on these, not frames
    assert normalised.max() == pytest.approx(1.0, abs=1e-5)
    # the previous frame's position from the current one's: fitted on the windows' offsets
    offsets = policy.relative_inputs(windows)["relative.proprio.ee_pose"]  # (W, T_o, 3)
    assert offsets[:, -1].abs().max() == 0 and offsets[:, 0].abs().max() > 1e-3
    normalised = policy.normalizer.normalize("relative.proprio.ee_pose", offsets)
    assert normalised.amin((0, 1)).tolist() == pytest.approx([-1.0] * 3, abs=1e-5)
    assert normalised.amax((0, 1)).tolist() == pytest.approx([1.0] * 3, abs=1e-5)
    env = make_env("lift", task)
    try:
        obs, _ = env.reset(seed=5)
        action = policy.select_action(obs)
        assert np.abs(action[:3] - obs["proprio.ee_pose"][:3]).max() < 0.1  # near the TCP
    finally:
        env.close()


def test_base_frames_are_each_windows_episode_start_and_train_a_policy(tmp_path: Path) -> None:
    task = TASK.model_copy(update={"depth_cameras": ()})
    store = collect("lift", task, CollectConfig(episodes=2), tmp_path / "d.zarr", False).path
    keys = ["rgb.scene", "proprio.ee_pose", "proprio.gripper"]
    bad = tiny_policy_config("bc", base_frame_keys=["proprio.gripper"])
    with pytest.raises(DatasetError, match=r"base_frame_keys \['proprio.gripper'\]: must be image"):
        load_datasets(store, bad, keys, 0.0, 0)
    policy_config = tiny_policy_config("bc", base_frame_keys=["rgb.scene"])
    train_set, _, _, opened = load_datasets(store, policy_config, keys, 0.0, 0)
    windows = np.arange(len(train_set))
    base = train_set.batch(windows)["base.rgb.scene"].numpy()  # (W, 1, H, W, 3)
    episodes = train_set.sampler.indices[:, 0]
    starts = np.concatenate([[0], opened.episode_ends[:-1]])
    frames = train_set.data["rgb.scene"]
    assert base.shape == (len(windows), 1, *frames.shape[1:])
    assert np.array_equal(base[:, 0], frames[starts[episodes]])
    assert not np.array_equal(frames[starts[0]], frames[starts[1]])  # two episodes, two bases
    _trains_and_acts(policy_config, store, keys, task, tmp_path)
