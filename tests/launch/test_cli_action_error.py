"""`vitac dataset action-error`: a checkpoint replayed on a store's windows, in mm."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from launch.cli import main


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
    sampled, decisions, first, later = record["rows"]
    assert sampled["n"] == 20 and decisions["n"] >= 1  # the expert lifted off the rim
    assert first["n"] + later["n"] == decisions["n"] and 1 <= first["n"] <= 2  # two episodes
    assert 0 < sampled["hold_first_mm"] < 10


def test_a_store_without_the_policys_inputs_is_one_line(
    insertion: tuple[Path, Path], demo_store: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checkpoint = insertion
    args = ["dataset", "action-error", str(demo_store), "--checkpoint", str(checkpoint)]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "proprio.ee_pose" in err and "Traceback" not in err


def test_the_executed_chunk_follows_eval_inference(
    insertion: tuple[Path, Path], tmp_path: Path
) -> None:
    """`--set eval.inference.n_action_steps=2` measures the chunk's first 2 actions, not the
    trained 3: the standing-still column over the chunk changes with it."""
    store, checkpoint = insertion
    args = ["dataset", "action-error", str(store), "--checkpoint", str(checkpoint)]
    rows = {}
    for steps in (None, 2):
        out = tmp_path / f"{steps}.json"
        sets = ["--set", f"eval.inference.n_action_steps={steps}"] if steps else []
        assert main([*args, *sets, "--windows", "20", "--json", str(out)]) == 0
        record = json.loads(out.read_text())
        assert record["inference"]["n_action_steps"] == steps
        assert record["n_action_steps"] == (steps or 3)  # as it ran; trained: 3
        rows[steps] = record["rows"][0]
    assert rows[None]["hold_chunk_mm"] != pytest.approx(rows[2]["hold_chunk_mm"])


@pytest.mark.parametrize(
    ("sets", "problem"),
    [
        (["--set", "train.steps=3"], "eval.inference.* keys"),
        (["--set", "eval.inference.n_action_steps=9"], "eval.inference does not fit"),
        (["--set", "eval.inference.steps=2"], "allowed keys here"),
    ],
)
def test_bad_inference_settings_are_one_line(
    insertion: tuple[Path, Path], sets: list[str], problem: str, capsys: pytest.CaptureFixture[str]
) -> None:
    store, checkpoint = insertion
    assert (
        main(["dataset", "action-error", str(store), "--checkpoint", str(checkpoint), *sets]) == 2
    )
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and problem in err and "Traceback" not in err
