"""What the `vitac task ...` CLI tests share: an operator error is one line, exit 2, no output."""

from __future__ import annotations

from pathlib import Path

import pytest

from launch.cli import main

# pads of units at a spread no touch readout was calibrated for: the expert cannot read them
UNREADABLE_PADS = (
    ["tactile_insertion", "--set", "task.params.tactile_units=5", "--set",
     "task.params.tactile_unit_spread=0.3"],
    "no touch readout is calibrated for pads of sensor units at spread 0.3",
)  # fmt: skip


def assert_task_operator_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    subcommand: str,
    args: list[str],
    message: str,
) -> None:
    """`vitac task SUBCOMMAND ARGS` exits 2 with one line naming `message`, touching nothing.

    `{full}` in `args` is an existing non-empty directory and `{file}` an existing file; without
    `--out` a new directory is given, which must not be created.
    """
    full = tmp_path / "full"
    full.mkdir()
    (full / "keep.txt").write_text("mine")
    (tmp_path / "file").write_text("mine")
    args = [a.format(full=full, file=tmp_path / "file") for a in args]
    if "--out" not in args:
        args += ["--out", str(tmp_path / "new")]
    assert main(["task", subcommand, *args, "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("vitac task: error:") and message in err
    assert not (tmp_path / "new").exists()
    assert (full / "keep.txt").read_text() == "mine"
