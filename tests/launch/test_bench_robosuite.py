"""robosuite Lift speed: the subprocess plumbing, the JSON it parses, and the no-robosuite path."""

from __future__ import annotations

import json
import logging
import stat
import sys
from dataclasses import asdict
from pathlib import Path

import pytest

from launch.benchmarks import robosuite as bench
from launch.benchmarks.robosuite import (
    RobosuiteLiftSpeed,
    measure_robosuite_lift,
    parse_result,
    unavailable_reason,
)
from tests.robosuite_marks import needs_robosuite

SAMPLE = RobosuiteLiftSpeed(
    raw_steps_per_s=20.0,
    adapter_steps_per_s=16.0,
    steps=5,
    image_size=84,
    shadows=False,
    reflections=False,
    numba=True,
    robosuite_version="1.5.2",
    mujoco_version="3.9.0",
    python="/venv/bin/python",
)


def fake_python(tmp_path: Path, body: str) -> Path:
    """An executable standing in for the robosuite venv's interpreter."""
    path = tmp_path / "python"
    path.write_text(f"#!/bin/sh\n{body}\n")
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return path


def test_parse_result_takes_the_last_json_line() -> None:
    out = "[robosuite WARNING] noise\n" + json.dumps(asdict(SAMPLE)) + "\n\n"
    result = parse_result(out)
    assert result == SAMPLE
    assert result.adapter_overhead == pytest.approx(0.25)
    with pytest.raises(RuntimeError, match="no JSON result"):
        parse_result("only noise\n")


def test_the_subprocess_result_is_parsed(tmp_path: Path) -> None:
    payload = json.dumps(asdict(SAMPLE)).replace('"', '\\"')
    python = fake_python(tmp_path, f'echo "starting"; echo "{payload}"')
    assert measure_robosuite_lift(5, python=python) == SAMPLE


def test_a_failing_subprocess_raises_with_its_stderr(tmp_path: Path) -> None:
    python = fake_python(tmp_path, 'echo "EGL exploded" >&2; exit 3')
    with pytest.raises(RuntimeError, match=r"exit 3\):\nEGL exploded"):
        measure_robosuite_lift(5, python=python)


def test_without_robosuite_the_result_is_none_with_a_reason(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(bench, "_has_robosuite", lambda: False)
    monkeypatch.setattr(bench, "ROBOSUITE_VENV_PYTHON", tmp_path / "no-venv" / "python")
    reason = unavailable_reason()
    assert reason is not None and "make robosuite-venv" in reason and sys.executable in reason
    with caplog.at_level(logging.WARNING):
        assert measure_robosuite_lift(5) is None
    assert "make robosuite-venv" in caplog.text
    missing = tmp_path / "nope"
    assert unavailable_reason(missing) == f"no Python interpreter at {missing}"
    assert measure_robosuite_lift(5, python=missing) is None


def test_bad_sizes_are_refused() -> None:
    with pytest.raises(ValueError, match="steps >= 1"):
        measure_robosuite_lift(0)


@needs_robosuite
def test_measures_robosuite_lift() -> None:
    result = measure_robosuite_lift(5, image_size=32)
    assert result is not None
    assert result.raw_steps_per_s > 0 and result.adapter_steps_per_s > 0
    assert (result.steps, result.image_size, result.shadows, result.reflections) == (
        5,
        32,
        False,
        False,
    )
    assert result.numba and result.robosuite_version.startswith("1.5")
