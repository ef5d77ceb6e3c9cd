"""`vitac task probe`: operator errors exit 2 with one line; a small run writes probe.json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main
from sim.tasks.tactile_insertion import TactileInsertionConfig
from tests.launch.cli_helpers import UNREADABLE_PADS, assert_task_operator_error


def test_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["task", "probe", "--help"])
    assert exit_.value.code == 0
    assert "usage: vitac task probe" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tactile_insertion", "--out", "{full}"], "not an empty directory"),
        (["tactile_insertion", "--out", "{file}"], "not an empty directory"),
        (["no_such_task"], "unknown task"),
        (["robosuite_lift"], "no scripted expert"),
        (["peg_insertion"], "has no decision()"),
        (["tactile_insertion", "--episodes", "2"], "--episodes >= 3"),
        (["tactile_insertion", "--seed", "-1"], "--seed >= 0"),
        (["tactile_insertion", "--decision", "0"], "--decision >= 1"),
        (["tactile_insertion", "--expert", "psychic"], "no expert variant 'psychic'"),
        (["tactile_insertion", "--episodes", "5", "--curve", "3"], "--curve: each count"),
        (["tactile_insertion", "--episodes", "5", "--curve", "4", "5"], "--curve: each count"),
        (["tactile_insertion", "--set", "experiment.seeds=2"], "only task parameters"),
        (["tactile_insertion", "--set", "task.params.tactile_units=-1"], "tactile_units"),
        (["tactile_insertion", "--set", "task.params.tactile_unit_spread=3"], "unit_spread"),
        UNREADABLE_PADS,
        (["tactile_insertion", "--test-set", "task.params.tactile_unit_seed=1"], "give --curve"),
        (["tactile_insertion", "--curve", "4", "--test-set", "train.steps=1"], "only task param"),
    ],
)
def test_operator_errors_exit_2_with_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert_task_operator_error(tmp_path, capsys, "probe", args, message)


def test_probe_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "probe"
    out.mkdir()  # an empty directory is fine
    args = ["task", "probe", "tactile_insertion", "--episodes", "7", "--curve", "4", "6"]
    assert main([*args, "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    report = json.loads((out / "probe.json").read_text())
    assert report["task"] == "tactile_insertion"
    assert (report["episodes"], report["seed"], report["decision"]) == (7, 0, 1)
    assert report["samples"] + report["skipped"] == 7
    assert report["command"].startswith("vitac task probe tactile_insertion --episodes 7")
    assert "--curve 4 6 --out" in report["command"]
    # 6 by seed 0 (one episode has no decision): 6 lowered to the 4 a 5-fold split trains on
    assert report["samples"] == 6
    curve = {(p["input"], p["episodes"]) for p in report["curve"]}
    assert curve == {("tactile", 4), ("tactile_since_first", 4)}
    assert "commit" in report
    rows = {(r["input"], r["phase"]): r for r in report["results"]}
    inputs = ("tactile", "wrist", "scene", "cameras", "proprio", "tactile_pose",
              "tactile_since_first")  # fmt: skip
    changes = {("tactile_change", "at_contact"), ("cameras_change", "at_contact")}
    assert set(rows) == {(i, p) for i in inputs for p in ("before_contact", "at_contact")} | changes
    for row in rows.values():
        assert set(row) == {"input", "phase", "r2", "cosine", "quadrant_acc", "n"}
        assert row["n"] == report["samples"] and -1 <= row["cosine"] <= 1
    for word in (
        "R^2",
        "cosine",
        "quadrant",
        "tactile",
        "before_contact",
        "probe.json",
        "training episodes",
    ):
        assert word in printed


def test_probe_of_a_named_expert_variant(tmp_path: Path) -> None:
    """`--expert blind --decision 2` probes the contact-only search's own second corrections."""
    out = tmp_path / "probe"
    args = ["task", "probe", "tactile_insertion", "--episodes", "4", "--expert", "blind"]
    args += ["--decision", "2"]
    assert main([*args, "--seed", "100001", "--out", str(out), "--no-progress"]) == 0
    report = json.loads((out / "probe.json").read_text())
    assert report["expert"] == "blind" and "--expert blind" in report["command"]
    assert report["decision"] == 2 and "--decision 2" in report["command"]
    assert report["samples"] >= 3  # it corrected in (nearly) every episode


def test_task_settings_reach_the_probe(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[object] = []

    def collect(*args: object, params: object = None, **kwargs: object) -> None:
        seen.append(params)
        raise KeyboardInterrupt  # stop here: what matters is what the probe was given

    monkeypatch.setattr("launch.task_jobs.collect_probe_data", collect)
    args = ["task", "probe", "tactile_insertion", "--out", str(tmp_path / "p"), "--no-progress"]
    assert main([*args, "--set", "task.params.tactile_units=12"]) != 0  # interrupted
    settings = seen[0]
    assert isinstance(settings, TactileInsertionConfig) and settings.tactile_units == 12


def test_readers_are_scored_under_the_test_settings_on_the_next_seeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """--test-set: a second collection, its settings the --set ones with the test ones over
    them, on the episodes after the first (seeds apart), and a transfer curve in the JSON."""
    from training import probe

    seen: list[tuple[int, object]] = []
    collect = probe.collect_probe_data

    def spy(task: str, episodes: int, seed: int, **kwargs: object) -> probe.ProbeData:
        seen.append((seed, kwargs["params"]))
        return collect(task, episodes, seed, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr("launch.task_jobs.collect_probe_data", spy)
    out = tmp_path / "p"
    args = ["task", "probe", "tactile_insertion", "--episodes", "6", "--curve", "4", "5"]
    args += ["--set", "task.params.tactile_units=1"]
    args += ["--test-set", "task.params.tactile_unit_seed=3"]
    assert main([*args, "--out", str(out), "--no-progress"]) == 0
    (first, train), (second, test) = seen
    assert (first, second) == (0, 6)
    assert isinstance(train, TactileInsertionConfig) and isinstance(test, TactileInsertionConfig)
    assert (train.tactile_units, train.tactile_unit_seed) == (1, 0)
    assert (test.tactile_units, test.tactile_unit_seed) == (1, 3)
    report = json.loads((out / "probe.json").read_text())
    assert report["test_settings"] == ["task.params.tactile_unit_seed=3"]
    assert 3 <= report["test_samples"] <= 6
    assert "--test-set task.params.tactile_unit_seed=3 --out" in report["command"]
    sizes = {p["episodes"] for p in report["transfer"]}
    assert sizes and max(sizes) <= report["samples"]  # lowered to the episodes with a decision
    assert {p["input"] for p in report["transfer"]} == {"tactile", "tactile_since_first"}
