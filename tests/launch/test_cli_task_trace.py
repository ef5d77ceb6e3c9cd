"""`vitac task trace`: a checkpoint's closed-loop search beside the expert's."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main


def test_prints_and_writes_both_actors(
    insertion: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint = insertion
    out = tmp_path / "trace.json"
    args = ["task", "trace", str(checkpoint.parent.parent), "--episodes", "1", "--no-progress"]
    sets = ["--set", "task.params.max_steps=60", "--set", "eval.inference.n_action_steps=1"]
    assert main([*args, *sets, "--json", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "policy" in printed and "scripted expert" in printed
    record = json.loads(out.read_text())
    assert record["checkpoint"] == str(checkpoint)
    assert record["task_config"]["max_steps"] == 60
    assert record["inference"]["n_action_steps"] == 1
    assert record["n_action_steps"] == 1  # as it ran; the trained chunk executes 3
    policy, expert = record["summaries"]
    assert policy["episodes"] == expert["episodes"] == 1
    assert expert["lifts"] >= 1 and expert["pressed"] >= 1  # the expert felt the rim and lifted
    assert "--set task.params.max_steps=60" in record["command"]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (["--set", "train.steps=3"], "task.* keys"),
        (["--episodes", "0"], "--episodes >= 1"),
        (["--set", "eval.inference.n_action_steps=9"], "eval.inference does not fit"),
    ],
)
def test_bad_options_are_one_line(
    insertion: tuple[Path, Path], extra: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint = insertion
    assert main(["task", "trace", str(checkpoint), *extra]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "Traceback" not in err


def test_a_task_without_the_arms_command_is_refused(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """peg_insertion has no ee_command: one line naming what the trace needs."""
    from tests.policies.conftest import tiny_config
    from training.trainer import TrainConfig, train

    config = TrainConfig(steps=1, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    run = train(tiny_config(), config, demo_store, tmp_path / "run", progress=False)
    capsys.readouterr()  # training's last progress line
    assert main(["task", "trace", str(run.checkpoint), "--episodes", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "proprio.ee_command" in err
