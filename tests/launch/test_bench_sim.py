"""`bench_sim` runs quickly and reports against real time and the GelSight frame budget."""

from __future__ import annotations

from pathlib import Path

from launch.bench import BenchOptions, format_table
from launch.benchmarks.sim import bench_sim


def test_bench_sim_quick(tmp_path: Path) -> None:
    results = bench_sim(BenchOptions(workdir=tmp_path, quick=True))
    by_name = {r.name: r for r in results}
    assert set(by_name) == {"sim.peg_insertion.step", "sim.tactile.frame"}
    step, tactile = by_name["sim.peg_insertion.step"], by_name["sim.tactile.frame"]
    assert step.unit == "steps/s" and step.reference == 10.0 and step.higher_is_better
    assert step.reference_name == "real time at 10 Hz"
    assert tactile.unit == "ms/frame" and tactile.reference == 40.0
    assert not tactile.higher_is_better
    assert all(r.value > 0 for r in results)
    assert "sim.tactile.frame" in format_table(results)
