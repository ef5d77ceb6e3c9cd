"""`vitac experiment tactile-insertion --quick`: every stage runs at toy sizes and the table
comes out (its numbers are not the point); a second run resumes only what is missing, and
operator mistakes are one line and exit 2."""

from __future__ import annotations

import itertools
import json
import shutil
import tomllib
from pathlib import Path
from typing import Any

import pytest

from launch import experiment
from launch.cli import main
from launch.cli_experiment import EXPERIMENT_FILE
from launch.config import apply_overrides, read_toml
from launch.experiment_plan import ARMS
from launch.experiment_report import SHEET_HEIGHT
from launch.launch_file import Launch, launch_from_data
from sensing.store import EpisodeStore
from training.eval_stats import EvalResult
from training.video import BAND_HEIGHT

QUICK = ["experiment", "tactile-insertion", "--quick", "--no-progress"]
STAGES = {"demonstrations", "pretraining data", "pretraining", "references"}


@pytest.mark.slow
def test_quick_makes_the_table_and_a_second_run_redoes_only_what_is_missing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "exp"
    assert main([*QUICK, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "tactile_insertion.json").read_text())
    keys = {(r["policy"], r["part"], r["arm"], r["seed"]) for r in record["results"]}
    assert keys == set(itertools.product(["bc", "diffusion"], ["switch3", "usb12"], ARMS, [0]))
    assert len(record["results"]) == len(keys)
    for row in record["results"]:
        assert set(row) == {"policy", "part", "arm", "seed", "successes", "episodes"}
        assert row["episodes"] == 2 and 0 <= row["successes"] <= 2
    assert record["command"] == (
        f"vitac experiment tactile-insertion --config launch/{EXPERIMENT_FILE.name} --out {out}"
        " --quick"
    )  # the shipped file as anyone's checkout has it, not this one's absolute path
    assert len(record["commit"]) == 40
    assert set(record["seconds"]) == STAGES | {f"{s} {p}" for s in ("train", "eval") for p in (
        "bc", "diffusion")}  # fmt: skip
    assert [r["part"] for r in record["references"]] == ["switch3", "usb12"]
    table = (out / "tactile_insertion.md").read_text()
    assert printed.startswith(table) and "| bc | all | " in table and "Goal, diffusion" in table
    assert (out / "tactile_insertion.png").read_bytes()[:4] == b"\x89PNG"
    sheet = (out / "tactile_insertion_videos.png").read_bytes()  # an example of every run
    assert sheet[:4] == b"\x89PNG" and int.from_bytes(sheet[20:24], "big") == len(keys) * (
        BAND_HEIGHT + SHEET_HEIGHT)  # fmt: skip

    store = EpisodeStore.open(out / "demos" / "all.zarr")  # every arm's data: both parts
    parts = [store.episode_meta(i)["part"] for i in range(store.n_episodes)]
    assert parts == ["switch3"] * 3 + ["usb12"] * 3 and store.attrs["parts"] == ["switch3", "usb12"]
    runs = out / "runs" / "diffusion"
    configs = {a: tomllib.loads((runs / a / "s0/train/config.toml").read_text()) for a in ARMS}
    assert configs["scratch"]["policy"]["t3"]["mode"] == "scratch"
    assert configs["pretrained"]["policy"]["t3"]["mode"] == "finetune"  # the shipped file's
    assert not any(k.startswith("tactile.") for k in configs["no_touch"]["train"]["obs_keys"])
    for arm in ARMS:  # seed 0 of every arm keeps a video per part
        assert len(list((runs / arm / "s0/videos/usb12").rglob("*.mp4"))) == 1

    assert main([*QUICK, "--out", str(out)]) == 2
    assert "holds a run; pass --resume" in capsys.readouterr().err
    (out / "runs/bc/scratch/s0/eval/usb12.json").unlink()
    (out / "runs/bc/pretrained/s0/train/done.json").unlink()  # cut short after its last save
    shutil.rmtree(out / "runs/bc/no_touch/s0/train")  # cut short before its first save
    assert main([*QUICK, "--out", str(out), "--resume"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("experiment")]
    no_touch = out / "runs/bc/no_touch/s0"
    assert said == [
        f"experiment: evaluating {out / 'runs/bc/scratch/s0'} on usb12 (2 episodes)",
        f"experiment: training {no_touch / 'train'}",
        f"experiment: evaluating {no_touch} on switch3 (2 episodes)",  # a new model: again
        f"experiment: evaluating {no_touch} on usb12 (2 episodes)",
    ]
    again = json.loads((out / "tactile_insertion.json").read_text())
    assert again["results"] == record["results"]

    shutil.rmtree(out / "pretrain" / "data")  # a finished trunk needs its data no more
    assert main([*QUICK, "--out", str(out), "--resume", "--only", "bc"]) == 0
    assert "experiment: " not in capsys.readouterr().err  # nothing left to run
    assert not (out / "pretrain" / "data").exists()
    only = json.loads((out / "tactile_insertion.json").read_text())
    assert only["results"] == [r for r in record["results"] if r["policy"] == "bc"]
    assert only["command"].endswith("--quick --only=bc")

    # arms may be added on resume: only the new arm's run is trained and evaluated
    conv = ["--set", "experiment.arms=['no_touch', 'conv']"]
    assert main([*QUICK, "--out", str(out), "--resume", "--only", "bc", *conv]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("experiment")]
    assert said[0] == f"experiment: training {out / 'runs/bc/conv/s0/train'}" and len(said) == 3
    arms = json.loads((out / "tactile_insertion.json").read_text())["results"]
    assert [r["arm"] for r in arms] == ["no_touch"] * 2 + ["conv"] * 2
    conv_config = tomllib.loads((out / "runs/bc/conv/s0/train/config.toml").read_text())
    assert conv_config["policy"]["tactile_encoder"] == "conv" and "t3" not in conv_config["policy"]

    # later seeds may be run on their own (another session's): seed 1 alone, with its videos
    later = ["--set", "experiment.arms=['no_touch']", "--set", "experiment.first_seed=1"]
    assert main([*QUICK, "--out", str(out), "--resume", "--only", "bc", *later]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if line.startswith("experiment")]
    assert said[0] == f"experiment: training {out / 'runs/bc/no_touch/s1/train'}" and len(said) == 3
    seeds = json.loads((out / "tactile_insertion.json").read_text())["results"]
    assert [(r["arm"], r["seed"]) for r in seeds] == [("no_touch", 1)] * 2
    assert len(list((out / "runs/bc/no_touch/s1/videos/usb12").rglob("*.mp4"))) == 1
    sheet = (out / "tactile_insertion_videos.png").read_bytes()  # seed 1's two runs
    assert int.from_bytes(sheet[20:24], "big") == 2 * (BAND_HEIGHT + SHEET_HEIGHT)

    assert main([*QUICK, "--out", str(out), "--resume", "--set", "collect.episodes=4"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "collect.episodes: 3 -> 4" in err


@pytest.mark.slow
def test_arms_without_the_trunk_pretrain_nothing(tmp_path: Path) -> None:
    """No touch (and conv) build on no trunk: an experiment of those arms alone skips the
    pretraining data and the pretraining, the longest shared stages."""
    out = tmp_path / "exp"
    no_touch = ["--only", "bc", "--set", "experiment.arms=['no_touch']"]
    assert main([*QUICK, "--out", str(out), *no_touch]) == 0
    assert not (out / "pretrain").exists()
    record = json.loads((out / "tactile_insertion.json").read_text())
    assert set(record["seconds"]) == {"demonstrations", "references", "train bc", "eval bc"}
    assert [(r["arm"], r["part"]) for r in record["results"]] == [
        ("no_touch", "switch3"), ("no_touch", "usb12")]  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--set", "task.name=lift"], "task.name is 'lift'; expected 'tactile_insertion'"),
        (["--set", "experiment.policies={}"], "experiment.policies is empty"),
        (["--set", "experiment.arms=['touchy']"], "experiment.arms"),
        (["--set", "experiment.policies.bc.policy.horizon=0"], "experiment.policies.bc"),
        (["--set", "train.obs_keys=['rgb.scene']"], "has no tactile input"),
        (["--only", "lstm"], "--only ['lstm']: not in experiment.policies (['bc', 'diffusion'])"),
        (["--set", "pretrain.tasks=['shear','wobble']"], "unknown tasks ['wobble']"),
        (["--set", "experiment.eval_task_params={wobble=1}"], "eval_task_params.wobble: unknown"),
        (["--set", "experiment.eval_task_params={part='usb12'}"], "the parts are experiment.parts"),
    ],
)
def test_bad_settings_are_refused_before_anything_runs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    out = tmp_path / "exp"
    assert main([*QUICK, "--out", str(out), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vitac experiment: error:") and message in err
    assert not out.exists()


def test_an_output_that_is_a_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "f").write_text("mine")
    assert main([*QUICK, "--out", str(tmp_path / "f")]) == 2
    assert capsys.readouterr().err.count("\n") == 1
    assert (tmp_path / "f").read_text() == "mine"


def _launch(*sets: str) -> Launch:
    """The shipped experiment file with `sets` applied."""
    return launch_from_data(apply_overrides(read_toml(EXPERIMENT_FILE), list(sets)), "exp.toml")


def test_the_evaluation_alone_takes_the_eval_task_params(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Demonstrations on one pool of sensor units, references and runs evaluated on
    another: the eval params go over task.params for both kinds of evaluation, not for
    collecting."""
    held_out = "experiment.eval_task_params={tactile_units=1000000, tactile_unit_seed=1}"
    launch = _launch("task.params.tactile_units=8", held_out)
    evaluated: list[Any] = []

    def fake_evaluate(task: str, config: Any, actors: list[Any], *args: Any) -> list[Any]:
        evaluated.append(config)
        return [EvalResult("a", [True, False], [3, 4], [1, 2]) for _ in actors]

    monkeypatch.setattr(experiment, "evaluate_parallel", fake_evaluate)
    reference = experiment._reference(launch, "usb12", tmp_path / "refs", print)
    assert reference == {"part": "usb12", "expert": [1, 2], "hold": [1, 2]}
    assert experiment._evaluated(launch, launch, tmp_path / "ckpt", "vga17", 0, tmp_path / "run",
                                 print, "cpu") == (1, 2)  # fmt: skip
    assert [(c.part, c.tactile_units, c.tactile_unit_seed) for c in evaluated] == [
        ("usb12", 1_000_000, 1), ("vga17", 1_000_000, 1)]  # fmt: skip

    collected: list[Any] = []

    def fake_collect(part_launch: Launch, *args: Any, **kwargs: Any) -> None:
        collected.append(part_launch.task_config)
        raise KeyboardInterrupt  # enough: what it was asked to collect on

    monkeypatch.setattr(experiment, "run_collect", fake_collect)
    with pytest.raises(KeyboardInterrupt):
        experiment._demonstrations(launch, tmp_path / "demos", print, False)
    assert [(c.part, c.tactile_units, c.tactile_unit_seed) for c in collected] == [
        ("switch3", 8, 0)]  # fmt: skip


def test_gather_writes_one_table_and_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    def saved(name: str, arm: str, seed: int) -> str:
        rows = [{"policy": "bc", "part": p, "arm": arm, "seed": seed, "successes": 3,
                 "episodes": 5} for p in ("switch3", "usb12")]  # fmt: skip
        (tmp_path / name).write_text(json.dumps({"command": name, "results": rows}))
        return str(tmp_path / name)

    records = [saved("a.json", "pretrained", 0), saved("b.json", "scratch", 0)]
    out = tmp_path / "table"
    assert main(["experiment", "gather", *records, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    record = json.loads((out / "tactile_insertion.json").read_text())
    assert record["command"] == f"vitac experiment gather {records[0]} {records[1]} --out {out}"
    assert [s["command"] for s in record["sources"]] == ["a.json", "b.json"]
    assert len(record["results"]) == 4 and "| bc | all | 60% " in printed
    assert (out / "tactile_insertion.png").read_bytes()[:4] == b"\x89PNG"
    for args, message in [
        ([*records, "--out", str(out)], "already holds tactile_insertion.json"),
        ([records[0], records[0], "--out", str(tmp_path / "t2")], "is also in"),
        ([*records, "--out", records[0]], "is a file"),
    ]:
        assert main(["experiment", "gather", *args]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err
    assert not (tmp_path / "t2").exists()
