"""Tactile pretraining on simulated FoTa data: it learns every (sensor, task), draws pairs by
their sizes, and a resumed run reproduces an uninterrupted one."""

from __future__ import annotations

import json
import signal
from collections import Counter
from pathlib import Path

import pytest
import torch

from policies.encoders import load_encoder
from policies.errors import CheckpointError
from training.fota import FotaSplit
from training.interrupt import Interrupted
from training.pretrain import PretrainConfig, _draw, pairs, pretrain
from training.tactile_data import make_tactile_data

MODEL = dict(width=32, heads=2, tokenizer_depth=1, trunk_depth=1, image_size=32, patch_size=8)
SMALL: dict[str, object] = {"model": MODEL, "batch_size": 8}
SMALL_SETS = [f"--set=pretrain.model.{k}={v}" for k, v in MODEL.items()]
SMALL_SETS += ["--set=pretrain.batch_size=8"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("pretrain") / "data"
    make_tactile_data(root, 300, seed=0, shard_size=40, progress=False)
    return root


def test_validation_improves_on_every_sensor_and_task(data: Path, tmp_path: Path) -> None:
    config = PretrainConfig(
        **SMALL | {"model": MODEL | {"width": 64}, "batch_size": 16},
        tasks=["shape", "force"],
        mae_steps=40,
        supervised_steps=700,
        lr=1e-3,
        warmup_steps=20,
        val_every=740,
        checkpoint_every=740,
    )
    result = pretrain(config, data, tmp_path / "run", progress=False)
    first, last = result.first_validation, result.validation
    assert set(last) == {
        f"{d}/{t}" for d in ("sim_digit", "sim_mini") for t in ("mae", "shape", "force")
    }
    for pair, scores in last.items():
        (metric, value), (_, before) = next(iter(scores.items())), next(iter(first[pair].items()))
        better = value > before if metric == "accuracy" else value < before
        assert better, (pair, metric, before, value)
    assert last["sim_mini/shape"]["accuracy"] > 0.45  # 4 shapes: chance 0.25 (30 val samples)
    assert load_encoder(result.checkpoint).sensors == ["mini", "digit"]
    assert (tmp_path / "run" / "pretrain.png").stat().st_size > 10_000  # both panels drawn


def test_pairs_are_drawn_by_stage_and_by_the_square_root_of_their_size(data: Path) -> None:
    config = PretrainConfig(
        **SMALL, tasks=["shape", "location"], mae_steps=10, supervised_steps=4000
    )
    splits = {
        d: (FotaSplit(data / d / "train"), FotaSplit(data / d / "val")) for d in config.datasets
    }
    assert {_draw(config, splits, s) for s in range(10)} <= set(pairs(config, 0))
    assert all(task == "mae" for _, task in pairs(config, 9))
    drawn = Counter(_draw(config, splits, s) for s in range(10, 4010))
    assert set(drawn) == {(d, t) for d in config.datasets for t in ("shape", "location")}
    assert all(900 < n < 1100 for n in drawn.values())  # equal sizes: equal shares


def _interrupt_at(step: int):  # type: ignore[no-untyped-def]
    def hook(done: int) -> None:
        if done == step:
            signal.raise_signal(signal.SIGINT)

    return hook


def test_an_interrupted_run_resumes_bit_exactly(data: Path, tmp_path: Path) -> None:
    config = PretrainConfig(
        **SMALL, mae_steps=6, supervised_steps=10, val_every=8, checkpoint_every=8
    )
    straight = pretrain(config, data, tmp_path / "a", progress=False)
    with pytest.raises(Interrupted, match="stopped at step 11 of 16"):
        pretrain(config, data, tmp_path / "b", progress=False, on_step=_interrupt_at(11))
    resumed = pretrain(config, data, tmp_path / "b", resume=True, progress=False)
    a, b = load_encoder(straight.checkpoint), load_encoder(resumed.checkpoint)
    for (name, x), y in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(x, y), name
    steps = [json.loads(line)["step"] for line in (tmp_path / "b" / "metrics.jsonl").open()]
    assert steps == [0, *range(1, 17)]  # the first attempt's lines past step 11 were dropped
    assert resumed.validation == straight.validation
    with pytest.raises(CheckpointError, match=r"pretrain.lr: 0.0005 -> 0.001"):
        pretrain(
            config.model_copy(update={"lr": 1e-3, "supervised_steps": 20}),
            data,
            tmp_path / "b",
            resume=True,
            progress=False,
        )


def test_the_command_trains_and_reports_each_pair(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from launch.cli import main

    sets = list(SMALL_SETS)
    sets += [
        "--set=pretrain.mae_steps=2",
        "--set=pretrain.supervised_steps=3",
        "--set=pretrain.tasks=['force']",
    ]
    out = tmp_path / "run"
    assert main(["pretrain", "--data", str(data), "--out", str(out), *sets, "--no-progress"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("sim_digit/force: rmse ") and " -> " in lines[0]
    assert lines[-1] == f"checkpoint: {out / 'checkpoints' / 'step_0000005'}"
    assert main(["pretrain", "--data", str(data), "--out", str(out), *sets]) == 2  # no resume
    assert "already holds checkpoints" in capsys.readouterr().err
