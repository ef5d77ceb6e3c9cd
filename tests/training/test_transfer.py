"""The transfer table: every stage runs once, an interrupted run picks up where it stopped,
and the table holds one row per task, arm, sample count and seed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from policies.encoders.encoder_checkpoint import FORMAT
from policies.errors import CheckpointError
from training.fota import FotaSplit
from training.pretrain_plan import PretrainConfig, check_config
from training.transfer import (
    MADE,
    TransferConfig,
    _finetune_config,
    ensure_tactile_data,
    finished_pretraining,
    run_transfer,
)

MODEL = dict(width=32, heads=2, tokenizer_depth=1, trunk_depth=1, image_size=32, patch_size=8)
PRETRAIN = PretrainConfig(
    model=MODEL, batch_size=8, mae_steps=2, supervised_steps=3, val_every=5, checkpoint_every=5
)
TRANSFER = TransferConfig(
    tasks=["shape", "force"], samples=[5, 20], seeds=1, steps=3, batch_size=8, data_samples=60
)
SETS = [f"--set=pretrain.model.{k}={v}" for k, v in MODEL.items()]
SETS += ["--set=pretrain.batch_size=8", "--set=pretrain.mae_steps=2"]
SETS += ["--set=pretrain.supervised_steps=3", "--set=transfer.tasks=['shape']"]
SETS += ["--set=transfer.samples=[5]", "--set=transfer.seeds=1", "--set=transfer.steps=2"]
SETS += ["--set=transfer.data_samples=40", "--set=transfer.arms=['pretrained','scratch']"]


def test_every_stage_runs_once_and_the_table_has_every_row(tmp_path: Path) -> None:
    said: list[str] = []
    rows = run_transfer(TRANSFER, PRETRAIN, tmp_path, log=said.append, progress=False)
    assert len(rows) == 2 + 2 * 3 * 2  # zero-shot per task; task x arm x samples x seed
    assert {(r["arm"], r["samples"]) for r in rows if r["task"] == "force"} == {
        ("pretrained", 0),
        *((arm, n) for arm in ("pretrained", "frozen", "scratch") for n in (5, 20)),
    }
    force = [r for r in rows if r["task"] == "force"]
    assert all(r["metric"] == "rmse" and r["unit"] == "N" and r["value"] > 0 for r in force)
    written = json.loads((tmp_path / "transfer.json").read_text())
    assert written["rows"] == rows and written["settings"]["samples"] == [5, 20]
    assert set(written["pretraining"]) >= {"sim_mini/shape", "sim_digit/force"}
    table = (tmp_path / "transfer.md").read_text()
    assert "**sim_digit / shape**: accuracy, higher is better" in table
    assert "| samples | pretrained | frozen | scratch |" in table
    assert sum(line.startswith("| 20 |") for line in table.splitlines()) == 2
    assert len(said) == 1 + 1 + 12  # data, pretraining, each fine-tuning run

    (tmp_path / "finetune" / "force" / "frozen" / "n5_s0" / "result.json").unlink()
    again: list[str] = []
    assert run_transfer(TRANSFER, PRETRAIN, tmp_path, log=again.append, progress=False) == rows
    assert again == [f"transfer: fine-tuning {tmp_path / 'finetune/force/frozen/n5_s0'}"]


def test_the_command_refuses_to_overwrite_a_run_and_continues_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from launch.cli import main

    out = tmp_path / "t"
    assert main(["encoders", "transfer", "--out", str(out), *SETS, "--no-progress"]) == 0
    printed = capsys.readouterr().out
    assert "| 5 | " in printed and printed.endswith(f"rows: {out / 'transfer.json'}\n")
    written = json.loads((out / "transfer.json").read_text())
    assert written["command"].startswith("vitac encoders transfer --set pretrain.model.width=32")
    assert written["command"].endswith(f"--out {out}") and len(written["commit"]) == 40
    assert main(["encoders", "transfer", "--out", str(out), *SETS]) == 2
    assert "holds a run; pass --resume" in capsys.readouterr().err
    assert main(["encoders", "transfer", "--out", str(out), *SETS, "--resume"]) == 0
    assert "fine-tuning" not in capsys.readouterr().err  # every stage was done
    other = ["--set=pretrain.lr=0.01", "--resume"]
    assert main(["encoders", "transfer", "--out", str(out), *SETS, *other]) == 2
    assert "pretrain.lr: 0.0005 -> 0.01" in capsys.readouterr().err


def _checkpoint(run: Path, step: int, config: PretrainConfig) -> Path:
    """A checkpoint directory as far as finished_pretraining reads it: its config.json."""
    path = run / "checkpoints" / f"step_{step:07d}"
    path.mkdir(parents=True)
    metadata = {"step": step, "pretrain": config.model_dump(mode="json")}
    (path / "config.json").write_text(json.dumps({"format": FORMAT, "metadata": metadata}))
    return path


def test_a_finished_trunk_is_used_only_when_it_was_pretrained_as_configured(
    tmp_path: Path,
) -> None:
    assert finished_pretraining(PRETRAIN, tmp_path) is None  # nothing pretrained yet
    _checkpoint(tmp_path, 4, PRETRAIN)
    assert finished_pretraining(PRETRAIN, tmp_path) is None  # 4 of its 5 steps: not finished
    final = _checkpoint(tmp_path, 5, PRETRAIN)
    assert finished_pretraining(PRETRAIN, tmp_path) == final
    watched = PRETRAIN.model_copy(update={"val_every": 1, "checkpoint_every": 1})
    assert finished_pretraining(watched, tmp_path) == final  # how it was watched: no matter
    other = PRETRAIN.model_copy(update={"tasks": ["shape"], "supervised_steps": 2})
    with pytest.raises(CheckpointError, match=r"pretrain.supervised_steps: 3 -> 2.*tasks"):
        finished_pretraining(other, tmp_path)  # a trunk of other settings, even a longer one
    braced = tmp_path / "run_{seed}"  # a path with braces is named as it is
    shutil.copytree(tmp_path / "checkpoints", braced / "checkpoints")
    with pytest.raises(CheckpointError, match=r"run_\{seed\} was pretrained .*supervised"):
        finished_pretraining(other, braced)
    (final / "config.json").write_text(json.dumps({"format": FORMAT, "metadata": {"step": 5}}))
    with pytest.raises(CheckpointError, match="not a pretraining checkpoint"):
        finished_pretraining(PRETRAIN, tmp_path)  # e.g. an imported encoder


def test_a_task_weight_of_the_pretraining_is_not_carried_into_fine_tuning(tmp_path: Path) -> None:
    """Each fine-tuning run trains one task: weights of the others would be refused there."""
    base = PRETRAIN.model_copy(update={"tasks": ["shape", "force"], "task_weights": {"force": 3.0}})
    tuned = _finetune_config(TRANSFER, base, tmp_path, "shape", "pretrained", 5, 0)
    assert tuned.tasks == ["shape"] and tuned.task_weights == {}
    check_config(tuned)


def test_data_made_without_pushes_is_made_again_when_shear_is_asked_for(tmp_path: Path) -> None:
    """ensure_tactile_data keeps finished data made the same way, remakes it otherwise."""
    root, said = tmp_path / "data", []
    for shear in (False, False, True, True):
        ensure_tactile_data(root, ["sim_mini"], 10, said.append, False, "t", shear=shear)
        labels = [s.labels for s in FotaSplit(root / "sim_mini" / "train").samples(seed=0)]
        pushed = max(abs(x["shear_x_n"]) + abs(x["shear_y_n"]) for x in labels)
        assert (pushed > 0.1) == shear, pushed
        made = {"samples": 10, "shear": shear, "grasp": False, "units": 0.0}
        assert json.loads((root / MADE).read_text()) == made
    assert len(said) == 3, said  # made, kept, made again (said why), kept
    assert said[1].endswith(
        "was made with {'shear': False, 'grasp': False, 'units': 0.0}; making it again"
    )
    assert said[2].endswith("(shear)")
    (root / "sim_mini" / "reference.jpg").unlink()  # made before data sets kept one
    ensure_tactile_data(root, ["sim_mini"], 10, said.append, False, "t", shear=True)
    assert said[3].endswith("was made before data sets had references; making it again")
    assert (root / "sim_mini" / "reference.jpg").is_file()
    ensure_tactile_data(root, ["sim_mini"], 10, said.append, False, "t", shear=True, grasp=True)
    assert "'grasp': False, 'units': 0.0}; making it again" in said[5]
    assert said[6].endswith("(grasp)")
    assert all(s.base is not None for s in FotaSplit(root / "sim_mini" / "val").samples(seed=0))
    ensure_tactile_data(root, ["sim_mini"], 10, said.append, False, "t", units=0.5)
    assert said[7].endswith("'units': 0.0}; making it again") and said[8].endswith("spread 0.5)")
    assert "unit_turn_deg" in next(FotaSplit(root / "sim_mini" / "train").samples(seed=0)).labels
    ensure_tactile_data(root, ["sim_mini"], 10, said.append, False, "t", units=0.5)
    assert len(said) == 9  # kept
