"""Metrics to TensorBoard and W&B beside metrics.jsonl, resumes included."""

from __future__ import annotations

import importlib.util
import json
import shutil
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pydantic import ValidationError
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from launch.cli import main
from tests.launch.test_cli import TINY
from tests.policies.conftest import tiny_config
from training.trainer import TrainConfig, train

POLICY = tiny_config()


def _config(**overrides: Any) -> TrainConfig:
    base = dict(steps=4, batch_size=4, warmup_steps=1, val_ratio=0.0, log_every=1, threads=1)
    return TrainConfig.model_validate(base | overrides)


def _scalars(run: Path, tag: str) -> list[tuple[int, float]]:
    events = EventAccumulator(str(run / "tensorboard"))
    events.Reload()
    return [(e.step, e.value) for e in events.Scalars(tag)]


def test_tensorboard_gets_the_jsonl_records_once_even_after_a_crash_and_resume(
    demo_store: Path, tmp_path: Path
) -> None:
    config = _config(log=["jsonl", "tensorboard"], checkpoint_every=2)
    train(POLICY, config, demo_store, tmp_path, progress=False)
    # a crash after step 4 was logged but before its checkpoint: steps 3-4 run again
    shutil.rmtree(tmp_path / "checkpoints" / "step_0000004")
    train(POLICY, config, demo_store, tmp_path, resume=True, progress=False)
    logged = [json.loads(line) for line in (tmp_path / "metrics.jsonl").open()]
    scalars = _scalars(tmp_path, "train/loss")
    assert [step for step, _ in scalars] == [1, 2, 3, 4]  # the first attempt's 3-4 purged
    assert [v for _, v in scalars] == pytest.approx([r["loss"] for r in logged])


def test_wandb_gets_the_records_and_a_resume_continues_the_same_run(
    demo_store: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[dict[str, Any]] = []

    def init(**kwargs: Any) -> Any:
        run = {"init": kwargs, "logged": [], "finished": False}
        runs.append(run)
        return SimpleNamespace(
            log=lambda values, step: run["logged"].append((step, values)),
            finish=lambda: run.update(finished=True),
        )

    monkeypatch.setitem(sys.modules, "wandb", SimpleNamespace(init=init))
    config = _config(log=["jsonl", "wandb"], steps=2, checkpoint_every=1)
    train(POLICY, config, demo_store, tmp_path, progress=False)
    train(
        POLICY,
        config.model_copy(update={"steps": 3}),
        demo_store,
        tmp_path,
        resume=True,
        progress=False,
    )
    first, second = runs
    assert first["init"]["id"] == second["init"]["id"] == (tmp_path / "wandb_id").read_text()
    assert first["init"]["resume"] == "allow" and first["init"]["config"]["train"]["steps"] == 2
    assert [step for step, _ in first["logged"]] == [1, 2] and first["finished"]
    assert [step for step, _ in second["logged"]] == [3]
    assert set(second["logged"][0][1]) == {"train/loss", "train/lr"}


def test_metrics_jsonl_cannot_be_turned_off() -> None:
    with pytest.raises(ValidationError, match="must include 'jsonl'"):
        TrainConfig(log=["tensorboard"])


@pytest.mark.skipif(importlib.util.find_spec("wandb") is not None, reason="wandb is installed")
def test_a_sink_that_is_not_installed_is_one_line_before_training(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--dataset", str(demo_store), "--out", str(tmp_path / "r"), *TINY]
    assert main([*argv, '--set=train.log=["jsonl", "wandb"]']) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not installed: wandb (pip install wandb)" in err
    assert not (tmp_path / "r").exists()
