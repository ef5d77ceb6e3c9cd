"""Fixtures shared across packages: a small real dataset collected from the simulated rig."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim import PegInsertionConfig, TactileInsertionConfig
from tests.policies.conftest import tiny_config
from training.collect import CollectConfig, collect
from training.trainer import TrainConfig, train

# Small images keep every test that trains or evaluates well under a second per step.
TINY_TASK = {"image_size": 32, "tactile_size": 16, "render_height": 48, "render_width": 64}


@pytest.fixture(scope="session")
def demo_store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Four expert episodes of peg insertion (about 80 frames), collected once per session."""
    path = tmp_path_factory.mktemp("data") / "demos.zarr"
    result = collect(
        "peg_insertion",
        PegInsertionConfig.model_validate(TINY_TASK),
        CollectConfig(episodes=4, seed=0, noise_std=0.001),
        path,
        progress=False,
    )
    assert result.stored == 4
    return path


@pytest.fixture(scope="session")
def insertion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two touch-expert episodes of tactile insertion (absolute TCP poses) and a 2-step policy
    trained on them: (store, checkpoint)."""
    root = tmp_path_factory.mktemp("action_error")
    task = TactileInsertionConfig(image_size=32)
    store = collect("tactile_insertion", task, CollectConfig(episodes=2), root / "d.zarr", False)
    keys = ["proprio.ee_pose", "task.socket_estimate", "tactile.left"]
    config = TrainConfig(
        steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1, obs_keys=keys
    )
    run = train(tiny_config(), config, store.path, root / "run", progress=False)
    return store.path, run.checkpoint
