"""`vitac task report`: operator errors exit 2 with one line; small runs write report.json."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from launch.cli import main
from tests.launch.cli_helpers import UNREADABLE_PADS, assert_task_operator_error

# small images and renders: the baselines act on privileged state, so the results are the same
TINY = [
    "--set",
    "task.params.image_size=32",
    "--set",
    "task.params.tactile_size=[16, 16]",
    "--set",
    "task.params.render_height=48",
    "--set",
    "task.params.render_width=64",
]
ROW_KEYS = {"part", "baseline", "successes", "episodes", "ci_low", "ci_high", "mean_length"}


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["task", "report", "--help"])
    assert exit_.value.code == 0
    assert "usage: vitac task report" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lift", "--out", "{full}"], "not an empty directory"),
        (["lift", "--out", "{file}"], "not an empty directory"),
        (["no_such_task"], "unknown task 'no_such_task'"),
        (["robosuite_lift"], "'robosuite_lift' has no scripted expert"),
        (["lift", "--episodes", "0"], "--episodes >= 1"),
        (["lift", "--seed", "-1"], "--seed >= 0"),
        (["lift", "--workers", "0"], "--workers >= 1"),
        (["lift", "--set", "train.steps=5"], "only task parameters can be set here"),
        (["lift", "--set", "task.name=stack"], "only task parameters can be set here"),
        (["lift", "--set", "task.params.wobble=1"], "task.params.wobble: unknown key"),
        (["lift", "--set", "task.params.max_steps=0"], "task.params.max_steps: Input should be"),
        (["lift", "--set", "task.params.part=usb12"], "task.params.part: unknown key"),
        (["tactile_insertion", "--set", "task.params.part=dvi"], "task.params.part: Input should"),
        UNREADABLE_PADS,
    ],
)
def test_operator_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert_task_operator_error(tmp_path, capsys, "report", args, message)


def _report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> tuple[dict[str, Any], str]:
    out = tmp_path / "report"
    out.mkdir()  # an empty directory is fine
    argv = ["task", "report", *args, "--episodes", "2", "--workers", "1", "--out", str(out)]
    assert main([*argv, "--no-progress"]) == 0
    report = json.loads((out / "report.json").read_text())
    assert report["command"].startswith(f"vitac task report {args[0]} --episodes 2 --seed 100000")
    assert report["command"].endswith(f"--out {out}")
    assert (report["task"], report["episodes"], report["seed"]) == (args[0], 2, 100_000)
    assert "commit" in report and report["task_config"]["image_size"] == 32
    for row in report["results"]:
        assert set(row) == ROW_KEYS and row["episodes"] == 2
        assert 0 <= row["ci_low"] <= row["successes"] / 2 <= row["ci_high"] <= 1
    return report, capsys.readouterr().out


def test_lift_report(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    report, printed = _report(tmp_path, capsys, ["lift", *TINY])
    rows = {(r["part"], r["baseline"]): r for r in report["results"]}
    assert list(rows) == [(None, "expert"), (None, "hold")]
    assert rows[(None, "expert")]["successes"] == 2
    assert rows[(None, "hold")]["successes"] == 0
    assert rows[(None, "hold")]["mean_length"] == 80  # lift's max_steps: held to the end
    assert report["baselines"] == {"expert": "PickExpert", "hold": "zero motion"}
    lines = printed.splitlines()
    assert lines[0].split()[:4] == ["task", "part", "baseline", "success"]
    assert lines[1].split()[:5] == ["lift", "-", "expert", "2/2", "100%"]
    assert lines[2].split()[:5] == ["lift", "-", "hold", "0/2", "0%"]
    assert "report.json" in printed


def test_tactile_insertion_report_covers_every_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    short = ["--set", "task.params.max_steps=40"]  # the expert needs about 31 steps
    report, _ = _report(tmp_path, capsys, ["tactile_insertion", *TINY, *short])
    keys = ["expert", "oracle", "blind", "memoryless", "open_loop", "hold"]
    parts = ["switch3", "usb12", "vga17"]
    assert [(r["part"], r["baseline"]) for r in report["results"]] == [
        (p, k) for p in parts for k in keys
    ]
    assert report["baselines"]["open_loop"] == "TouchInsertionExpert(correct=False)"
    assert all(r["successes"] == 0 for r in report["results"] if r["baseline"] == "hold")
