"""Tactile pretraining on simulated FoTa data: it learns every (sensor, task), draws pairs by
their sizes, and a resumed run reproduces an uninterrupted one."""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

import pytest
import torch

from policies.encoders import load_encoder
from policies.errors import CheckpointError
from training.augment import AugmentConfig
from training.fota import FotaError
from training.interrupt import Interrupted
from training.pretrain import pretrain
from training.pretrain_plan import PretrainConfig
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
        supervised_steps=1000,  # 700 left digit/force within 1% of its start
        lr=1e-3,
        warmup_steps=20,
        val_every=1040,
        checkpoint_every=1040,
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


def test_a_difference_encoder_learns_from_presses_less_their_resting_pad(
    data: Path, tmp_path: Path
) -> None:
    config = PretrainConfig(
        **SMALL, tasks=["force"], mae_steps=2, supervised_steps=4, difference=True
    )
    result = pretrain(config, data, tmp_path / "run", progress=False)
    encoder = load_encoder(result.checkpoint)
    assert all(p.difference for p in encoder.preprocessing.values())
    bare = tmp_path / "bare"  # the same data without its references
    shutil.copytree(data, bare)
    for name in ("sim_mini", "sim_digit"):
        (bare / name / "reference.jpg").unlink()
    with pytest.raises(FotaError, match=r"sim_(mini|digit)/reference.jpg: no reference image"):
        pretrain(config, bare, tmp_path / "run2", progress=False)
    again = config.model_copy(update={"difference": False, "init": str(result.checkpoint)})
    with pytest.raises(CheckpointError, match=r"does not match pretrain\.difference"):
        pretrain(again, data, tmp_path / "run3", progress=False)


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


def test_fine_tuning_starts_from_an_encoder_and_freeze_trains_the_heads_only(
    data: Path, tmp_path: Path
) -> None:
    source = PretrainConfig(
        **SMALL, tasks=["shape"], mae_steps=2, supervised_steps=3, exclude=["sim_digit/shape"]
    )
    first = pretrain(source, data, tmp_path / "pre", progress=False)
    assert set(first.validation) >= {"sim_digit/shape"}  # held out, still scored (zero-shot)
    tune = source.model_copy(
        update={
            "datasets": ["sim_digit"],
            "tasks": ["shape", "force"],  # force: a head the encoder lacks, added fresh
            "exclude": [],
            "mae_steps": 0,
            "supervised_steps": 4,
            "init": str(first.checkpoint),
            "train_samples": 20,
            "freeze": True,
        }
    )
    tuned = pretrain(tune, data, tmp_path / "tune", progress=False)
    before, after = load_encoder(first.checkpoint), load_encoder(tuned.checkpoint)
    assert set(after.heads) == {"mae", "shape", "force"}
    for name, x in before.state_dict().items():
        same = torch.equal(x, after.state_dict()[name])
        assert same != name.startswith("heads.shape."), name  # only the heads moved
    saved = json.loads((tuned.checkpoint / "config.json").read_text())["metadata"]
    assert set(saved["targets"]) == {"force"}  # the new regression head's units


def test_settings_that_cannot_work_are_refused_by_name(data: Path, tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match=r"exclude: \['sim_mini/pose'\] are not pairs"):
        pretrain(PretrainConfig(**SMALL, exclude=["sim_mini/pose"]), data, tmp_path / "a")
    every = [f"{d}/{t}" for d in ("sim_mini", "sim_digit") for t in ("shape", "location", "force")]
    with pytest.raises(CheckpointError, match="leaves stage II no pair"):
        pretrain(PretrainConfig(**SMALL, exclude=every), data, tmp_path / "b")
    run = pretrain(
        PretrainConfig(**SMALL, mae_steps=1, supervised_steps=0),
        data,
        tmp_path / "c",
        progress=False,
    )
    wider = PretrainConfig(**SMALL | {"model": MODEL | {"width": 64}}, init=str(run.checkpoint))
    with pytest.raises(CheckpointError, match=r"architecture differs: pretrain.model.width: 32"):
        pretrain(wider, data, tmp_path / "d")


def test_bf16_autocast_can_be_asked_for_on_the_cpu(data: Path, tmp_path: Path) -> None:
    config = PretrainConfig(**SMALL, tasks=["force"], mae_steps=2, supervised_steps=2)
    plain = pretrain(config, data, tmp_path / "fp32", progress=False)
    bf16 = config.model_copy(update={"precision": "bf16"})
    fast = pretrain(bf16, data, tmp_path / "bf16", progress=False)
    a, b = plain.validation["sim_mini/force"]["rmse"], fast.validation["sim_mini/force"]["rmse"]
    assert a != b and abs(a - b) < 0.05 * a  # rounded differently, the same training


@pytest.mark.slow  # inductor compiles C++ on the CPU: about a minute
def test_a_compiled_run_saves_the_same_names_and_resumes(data: Path, tmp_path: Path) -> None:
    config = PretrainConfig(
        **SMALL, tasks=["force"], mae_steps=1, supervised_steps=2, compile="on", checkpoint_every=1
    )
    with pytest.raises(Interrupted):
        pretrain(config, data, tmp_path / "run", progress=False, on_step=_interrupt_at(2))
    off = config.model_copy(update={"compile": "off"})  # compile may change on resume
    resumed = pretrain(off, data, tmp_path / "run", resume=True, progress=False)
    plain = pretrain(off, data, tmp_path / "plain", progress=False)
    names = load_encoder(resumed.checkpoint).state_dict().keys()
    assert names == load_encoder(plain.checkpoint).state_dict().keys()  # no compile prefixes


def test_augmentation_changes_training_and_never_validation(data: Path, tmp_path: Path) -> None:
    config = PretrainConfig(**SMALL, tasks=["shape"], mae_steps=2, supervised_steps=2)
    plain = pretrain(config, data, tmp_path / "plain", progress=False)
    jittered = config.model_copy(update={"augment": AugmentConfig(enabled=True)})
    augmented = pretrain(jittered, data, tmp_path / "aug", progress=False)
    assert augmented.first_validation == plain.first_validation
    assert augmented.validation != plain.validation


def test_a_run_of_no_steps_saves_its_untrained_weights(data: Path, tmp_path: Path) -> None:
    """The untrained trunk of a frozen-random control arm (`pretrain.mae_steps = 0`,
    `pretrain.supervised_steps = 0`): saved at step 0, seeded, loadable as any trunk."""
    config = PretrainConfig(**SMALL, tasks=["shape"], mae_steps=0, supervised_steps=0)
    a = pretrain(config, data, tmp_path / "a", progress=False)
    assert a.checkpoint == tmp_path / "a" / "checkpoints" / "step_0000000"
    assert a.validation == a.first_validation
    b = pretrain(config, data, tmp_path / "b", progress=False)
    c = pretrain(config.model_copy(update={"seed": 1}), data, tmp_path / "c", progress=False)
    wa, wb, wc = (load_encoder(r.checkpoint).state_dict() for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)  # the same seed, the same weights
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert (tmp_path / "a" / "pretrain.png").is_file()
