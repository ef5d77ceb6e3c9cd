"""Training and acting on a CUDA device (`--device cuda`): runs only where CUDA is present."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from policies import load_policy
from sensing.store import EpisodeStore
from tests.policies.conftest import tiny_config
from training.trainer import TrainConfig, train

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device here")


def test_cuda_training_matches_cpu_and_its_checkpoint_acts_alike(
    demo_store: Path, tmp_path: Path
) -> None:
    config = TrainConfig(steps=3, batch_size=8, warmup_steps=1, val_ratio=0.0, log_every=1)
    policy = tiny_config(shift_pixels=0)  # no augmentation: the two devices see the same input
    runs = {
        d: train(policy, config, demo_store, tmp_path / d, progress=False, device=d)
        for d in ("cpu", "cuda:0")
    }
    losses = {
        d: [json.loads(line)["loss"] for line in (tmp_path / d / "metrics.jsonl").open()]
        for d in runs
    }
    np.testing.assert_allclose(losses["cuda:0"][0], losses["cpu"][0], rtol=1e-4)
    meta = json.loads((runs["cuda:0"].checkpoint / "config.json").read_text())["metadata"]
    assert meta["device"] == "cuda:0"
    frame = EpisodeStore.open(demo_store).episode(0)
    obs = {k: frame[k][0] for k in frame if k not in ("action", "timestamp")}
    on_gpu = load_policy(runs["cuda:0"].checkpoint, "cuda:0")
    on_cpu = load_policy(runs["cuda:0"].checkpoint, "cpu")  # saved weights load anywhere
    np.testing.assert_allclose(on_gpu.select_action(obs), on_cpu.select_action(obs), atol=1e-4)
