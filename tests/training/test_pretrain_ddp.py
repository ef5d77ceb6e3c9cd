"""Pretraining with two processes under torchrun (gloo on CPU): each reads its share of the
shards, gradients are averaged, the replicas stay identical, only rank 0 logs and saves."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from policies.encoders import load_encoder
from tests.training.test_pretrain import SMALL_SETS
from tests.training.torchrun import torchrun
from training.tactile_data import make_tactile_data


def _torchrun(data: Path, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    sets = list(SMALL_SETS)
    sets += ["--set=pretrain.mae_steps=3", "--set=pretrain.supervised_steps=5"]
    sets += ["--set=pretrain.checkpoint_every=4", "--no-progress", *extra]
    return torchrun("pretrain", "--data", str(data), "--out", str(out), *sets)


@pytest.mark.slow
def test_two_processes_train_one_model_and_resume_it_exactly(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "run"
    make_tactile_data(data, 120, seed=0, shard_size=20, progress=False)  # 6 train shards each
    done = _torchrun(data, out)
    report = [line for line in done.stdout.splitlines() if line.startswith("sim_")]
    assert len(report) == 8  # 2 sensors x (mae + 3 tasks), printed once: by rank 0 only
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").open()]
    assert steps == list(range(9))  # one log, not two
    checkpoint = out / "checkpoints" / "step_0000008"
    meta = json.loads((checkpoint / "config.json").read_text())["metadata"]
    assert meta["world_size"] == 2
    assert load_encoder(checkpoint).sensors == ["mini", "digit"]

    # a crash after the step-4 checkpoint: resume there and end where the straight run did
    crashed = tmp_path / "crashed"
    shutil.copytree(out, crashed)
    shutil.rmtree(crashed / "checkpoints" / "step_0000008")
    _torchrun(data, crashed, "--resume")
    resumed = load_encoder(crashed / "checkpoints" / "step_0000008").state_dict()
    for name, value in load_encoder(checkpoint).state_dict().items():
        assert torch.equal(value, resumed[name]), name
