"""Pretraining with two processes under torchrun (gloo on CPU): each reads its share of the
shards, gradients are averaged, the replicas stay identical, only rank 0 logs and saves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from policies.encoders import load_encoder
from tests.training.test_pretrain import SMALL_SETS
from training.tactile_data import make_tactile_data

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_two_processes_train_one_model(tmp_path: Path) -> None:
    data, out = tmp_path / "data", tmp_path / "run"
    make_tactile_data(data, 120, seed=0, shard_size=20, progress=False)  # 6 train shards each
    sets = list(SMALL_SETS)
    sets += ["--set=pretrain.mae_steps=3", "--set=pretrain.supervised_steps=5"]
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2"]
    command += ["-m", "launch.cli", "pretrain", "--data", str(data), "--out", str(out), *sets]
    done = subprocess.run(
        [*command, "--no-progress"],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    report = [line for line in done.stdout.splitlines() if line.startswith("sim_")]
    assert len(report) == 8  # 2 sensors x (mae + 3 tasks), printed once: by rank 0 only
    steps = [json.loads(line)["step"] for line in (out / "metrics.jsonl").open()]
    assert steps == list(range(9))  # one log, not two
    checkpoint = out / "checkpoints" / "step_0000008"
    meta = json.loads((checkpoint / "config.json").read_text())["metadata"]
    assert meta["world_size"] == 2
    assert load_encoder(checkpoint).sensors == ["mini", "digit"]
