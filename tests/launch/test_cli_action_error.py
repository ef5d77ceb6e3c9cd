"""`vitac dataset action-error`: a checkpoint replayed on a store's windows, in mm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main
from sim import TactileInsertionConfig
from tests.policies.conftest import tiny_config
from training.collect import CollectConfig, collect
from training.trainer import TrainConfig, train


@pytest.fixture(scope="module")
def insertion(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """Two touch-expert episodes of the arm task (absolute TCP poses) and a 2-step policy."""
    root = tmp_path_factory.mktemp("action_error")
    task = TactileInsertionConfig(image_size=32)
    store = collect("tactile_insertion", task, CollectConfig(episodes=2), root / "d.zarr", False)
    keys = ["proprio.ee_pose", "task.socket_estimate", "tactile.left"]
    config = TrainConfig(
        steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1, obs_keys=keys
    )
    run = train(tiny_config(), config, store.path, root / "run", progress=False)
    return store.path, run.checkpoint


def test_prints_and_writes_both_rows(
    insertion: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store, checkpoint = insertion
    out = tmp_path / "error.json"
    args = ["dataset", "action-error", str(store), "--checkpoint", str(checkpoint.parent.parent)]
    assert main([*args, "--windows", "20", "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "standing still" in printed and "decisions" in printed
    record = json.loads(out.read_text())
    assert record["checkpoint"] == str(checkpoint)  # the run's checkpoint, resolved
    sampled, decisions = record["rows"]
    assert sampled["n"] == 20 and decisions["n"] >= 1  # the expert lifted off the rim
    assert 0 < sampled["hold_first_mm"] < 10


def test_a_store_without_the_policys_inputs_is_one_line(
    insertion: tuple[Path, Path], demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint = insertion
    args = ["dataset", "action-error", str(demo_store), "--checkpoint", str(checkpoint)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "proprio.ee_pose" in err and "Traceback" not in err
