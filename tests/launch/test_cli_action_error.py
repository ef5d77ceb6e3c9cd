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
