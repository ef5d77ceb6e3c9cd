from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from policies import CheckpointError, load_policy
from sensing.errors import DatasetError
from tests.policies.conftest import tiny_config
from training.dataset import load_datasets
from training.trainer import TrainConfig, latest_checkpoint, train

POLICY = tiny_config(shift_pixels=2)


def _config(**overrides: object) -> TrainConfig:
    base: dict[str, object] = dict(
        steps=6,
        batch_size=8,
        warmup_steps=2,
        val_ratio=0.25,
        val_every=3,
        val_batches=1,
        checkpoint_every=3,
        log_every=1,
        threads=1,
    )
    return TrainConfig.model_validate(base | overrides)


def test_batches_have_policy_window_shapes(demo_store: Path) -> None:
    train_set, val_set, io, store = load_datasets(demo_store, POLICY, None, 0.25, seed=0)
    assert val_set is not None and len(train_set) > len(val_set) > 0
    assert set(io.obs_shapes) == set(store.keys) - {"action"}
    batch = train_set.batch(np.array([0, 5, 7]))
    assert batch["rgb.scene"].shape == (3, 2, 32, 32, 3)  # (B, T_o, H, W, C)
    assert batch["rgb.scene"].dtype == torch.uint8
    assert batch["proprio.ee_pos"].shape == (3, 2, 3)
    assert batch["action"].shape == (3, 6, 4)  # (B, T_p, D_a)


def test_unknown_obs_key_is_a_dataset_error(demo_store: Path) -> None:
    with pytest.raises(DatasetError, match=r"obs keys \['rgb.wrist'\] not in the dataset"):
        load_datasets(demo_store, POLICY, ["rgb.wrist"], 0.0, seed=0)


def test_resumed_run_reproduces_an_uninterrupted_one(demo_store: Path, tmp_path: Path) -> None:
    straight = train(POLICY, _config(), demo_store, tmp_path / "a", progress=False)
    train(POLICY, _config(steps=3), demo_store, tmp_path / "b", progress=False)
    resumed = train(POLICY, _config(), demo_store, tmp_path / "b", resume=True, progress=False)
    assert resumed.checkpoint.name == straight.checkpoint.name == "step_0000006"
    a, b = load_policy(straight.checkpoint), load_policy(resumed.checkpoint)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    steps = [json.loads(line)["step"] for line in (tmp_path / "b/metrics.jsonl").open()]
    assert steps == [1, 2, 3, 4, 5, 6]  # no duplicated lines from the first attempt
    assert resumed.train_loss == pytest.approx(straight.train_loss)


def test_checkpoints_carry_trainer_state_and_task_metadata(
    demo_store: Path, tmp_path: Path
) -> None:
    result = train(POLICY, _config(), demo_store, tmp_path, progress=False)
    names = sorted(p.name for p in (tmp_path / "checkpoints").iterdir())
    assert names == ["step_0000003", "step_0000006"]
    files = sorted(p.name for p in result.checkpoint.iterdir())
    assert files == ["config.json", "model.safetensors", "trainer.json", "trainer.safetensors"]
    metadata = json.loads((result.checkpoint / "config.json").read_text())["metadata"]
    assert metadata["step"] == 6 and metadata["dataset_attrs"]["task"] == "peg_insertion"
    assert result.val_loss is not None and np.isfinite(result.train_loss)


def test_refuses_to_train_over_an_existing_run(demo_store: Path, tmp_path: Path) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"already holds checkpoints.*resume"):
        train(POLICY, _config(), demo_store, tmp_path, progress=False)
    assert latest_checkpoint(tmp_path) == tmp_path / "checkpoints" / "step_0000003"


def test_resume_without_a_checkpoint_or_past_the_last_step_is_refused(
    demo_store: Path, tmp_path: Path
) -> None:
    with pytest.raises(CheckpointError, match="holds no checkpoint; start a new run"):
        train(POLICY, _config(steps=3), demo_store, tmp_path, resume=True, progress=False)
    assert latest_checkpoint(tmp_path) is None
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    with pytest.raises(CheckpointError, match=r"has done 3 steps and train\.steps is 2"):
        train(POLICY, _config(steps=2), demo_store, tmp_path, resume=True, progress=False)
    with pytest.raises(CheckpointError, match=r"has done 3 steps and train\.steps is 3"):
        train(POLICY, _config(steps=3), demo_store, tmp_path, resume=True, progress=False)


def test_resume_with_another_policy_config_is_refused(demo_store: Path, tmp_path: Path) -> None:
    train(POLICY, _config(steps=3), demo_store, tmp_path, progress=False)
    other = POLICY.model_copy(update={"hidden_dim": 16})
    with pytest.raises(CheckpointError, match="use the original launch file"):
        train(other, _config(), demo_store, tmp_path, resume=True, progress=False)


def test_loss_falls_on_real_demonstrations(demo_store: Path, tmp_path: Path) -> None:
    config = _config(steps=80, val_ratio=0.0, checkpoint_every=80, log_every=1, lr=3e-3)
    train(POLICY, config, demo_store, tmp_path, progress=False)
    losses = [json.loads(line)["loss"] for line in (tmp_path / "metrics.jsonl").open()]
    assert np.mean(losses[-10:]) < 0.5 * np.mean(losses[:3])
