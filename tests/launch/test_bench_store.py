"""The store benchmark runs quickly and reports well-formed figures against the memmap peer."""

from __future__ import annotations

import math
from pathlib import Path

from launch.bench import BenchOptions, BenchResult
from launch.benchmarks.store import bench_store


def test_bench_store_quick(tmp_path: Path) -> None:
    results = bench_store(BenchOptions(workdir=tmp_path, quick=True))
    assert [r.name for r in results] == [
        "store.write",
        "store.read_windows.zarr",
        "store.load",
        "store.read_windows.memory",
    ]
    for result in results:
        assert isinstance(result, BenchResult)
        assert result.unit == "frames/s" and result.higher_is_better
        assert "memmap" in result.reference_name
        assert math.isfinite(result.value) and result.value > 0
        assert math.isfinite(result.reference) and result.reference > 0
        assert result.ratio > 0
    assert (tmp_path / "store" / "episodes.zarr" / ".zgroup").is_file()
