"""Outputs an operator gets wrong end in one line and exit 2 before any work; a closed pipe
ends quietly."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launch.cli import main


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["demo", "--out", "{file}"], "is a file; give a directory path"),
        (["collect", "--out", "{file}"], "is a file; give a directory path"),
        (["collect", "--out", "{file}/x.zarr"], "is a file, not a directory"),
        (["train", "--dataset", "{store}", "--out", "{file}"], "is a file; give a directory"),
        (["train", "--dataset", "{store}", "--out", "{file}/a/b"], "is a file, not a directory"),
        (["eval", "{store}", "--out", "{file}"], "is a file; give a directory path"),
        (["eval", "{store}", "--out", "{file}/sub"], "is a file, not a directory"),
    ],
)
def test_an_output_that_is_or_sits_in_a_file_is_refused(
    tmp_path: Path,
    demo_store: Path,
    capsys: pytest.CaptureFixture[str],
    args: list[str],
    message: str,
) -> None:
    file = tmp_path / "notes.txt"
    file.write_text("mine")
    args = [a.format(file=file, store=demo_store) for a in args]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith(f"vitac {args[0]}: error: --out ")
    assert message in err and "Traceback" not in err
    assert file.read_text() == "mine"


def test_dataset_info_into_a_closed_pipe_ends_quietly(demo_store: Path) -> None:
    """`vitac dataset info STORE | head -1` when the reader has gone before vitac writes."""
    code = "import sys; from launch.cli import main; sys.exit(main())"
    process = subprocess.Popen(
        [sys.executable, "-c", code, "dataset", "info", str(demo_store)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert process.stdout is not None and process.stderr is not None
    process.stdout.close()  # the reader is gone before the first line
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 141, err
    assert "Traceback" not in err and "BrokenPipeError" not in err
