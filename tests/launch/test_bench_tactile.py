"""`bench_tactile` reports ms/frame per profile against the frame budget and the 2 ms goal."""

from __future__ import annotations

import math
from pathlib import Path

import cv2
import pytest

from launch.bench import BenchOptions, format_table
from launch.benchmarks.tactile import bench_tactile


def test_bench_tactile_quick(tmp_path: Path) -> None:
    threads = cv2.getNumThreads()
    results = bench_tactile(BenchOptions(workdir=tmp_path, quick=True))
    assert cv2.getNumThreads() == threads  # restored after timing on one thread
    by_name = {r.name: r for r in results}
    assert list(by_name) == [
        "tactile.gelsight_mini.frame",
        "tactile.gelsight_mini.goal",
        "tactile.digit.frame",
        "tactile.digit.goal",
    ]
    assert by_name["tactile.gelsight_mini.frame"].reference == pytest.approx(40.0)
    assert by_name["tactile.digit.frame"].reference == pytest.approx(1000 / 60)
    assert "25 fps" in by_name["tactile.gelsight_mini.frame"].reference_name
    for name in ("gelsight_mini", "digit"):
        frame, goal = by_name[f"tactile.{name}.frame"], by_name[f"tactile.{name}.goal"]
        assert goal.reference == 2.0 and "2 ms" in goal.reference_name
        assert frame.value == goal.value
    for result in results:
        assert result.unit == "ms/frame" and not result.higher_is_better
        assert math.isfinite(result.value) and 0 < result.value < result.reference * 50
    assert "tactile.digit.goal" in format_table(results)
