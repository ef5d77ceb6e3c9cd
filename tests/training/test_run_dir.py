"""A run directory's metrics: every logged row read back, and the line a crash cut short
named, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from policies.errors import CheckpointError
from training.run_dir import read_metrics, validations


def test_rows_are_read_and_validations_picked_up_to_a_step(tmp_path: Path) -> None:
    assert read_metrics(tmp_path) == []  # a run that has logged nothing yet
    (tmp_path / "metrics.jsonl").write_text(
        '{"step": 0, "val": {"a": 1}}\n{"step": 1, "loss": 2}\n\n{"step": 2, "val": {"a": 0}}\n'
    )
    assert [r["step"] for r in read_metrics(tmp_path)] == [0, 1, 2]
    assert [r["step"] for r in validations(tmp_path)] == [0, 2]
    assert [r["step"] for r in validations(tmp_path, upto=1)] == [0]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"step": 0}\n{"step": 1, "lo', r"metrics.jsonl:2: not JSON"),
        ('{"step": 0}\n[1, 2]\n', r"metrics.jsonl:2: not a logged step"),
        ('{"step": "0"}\n', r"metrics.jsonl:1: not a logged step"),
        ('{"step": 0, "loss": 1}\n', r"metrics.jsonl: no validation logged"),
    ],
)
def test_a_broken_or_empty_log_is_named(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "metrics.jsonl").write_text(text)
    with pytest.raises(CheckpointError, match=message):
        validations(tmp_path)
