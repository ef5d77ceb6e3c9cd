"""`vitac train` facing a launch file that does not match its dataset."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.cli import main
from tests.launch.test_cli import TINY


def test_a_launch_task_other_than_the_datasets_is_warned_about(
    demo_store: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["train", "--dataset", str(demo_store), "--out", str(tmp_path / "a"), *TINY]
    assert main([*argv, "--set=train.steps=1"]) == 0
    assert "warning" not in capsys.readouterr().out  # the same task: nothing to say
    argv[4] = str(tmp_path / "b")
    assert main([*argv, "--set=train.steps=1", "--set=task.params.clearance_mm=0.2"]) == 0
    warning = capsys.readouterr().out.splitlines()[0]
    assert warning.startswith("warning: ") and "is not the task" in warning
    assert "task.params.clearance_mm: " in warning and " -> 0.2" in warning
