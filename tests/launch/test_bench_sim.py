"""`bench_sim` runs quickly and judges the flagship env against robosuite or real time."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

import launch.benchmarks.sim as bench_module
from launch.bench import BenchOptions, format_table
from launch.benchmarks.robosuite import RobosuiteLiftSpeed
from launch.benchmarks.sim import bench_sim
from tests.launch.test_bench_robosuite import SAMPLE

NAMES = {
    "sim.tactile_insertion.step",
    "sim.tactile_insertion.step.native_tactile",
    "sim.peg_insertion.step",
}


def fake_speed(steps: int) -> RobosuiteLiftSpeed:
    return replace(SAMPLE, raw_steps_per_s=25.0, adapter_steps_per_s=24.0, steps=steps)


def test_bench_sim_against_robosuite(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_module, "measure_robosuite_lift", fake_speed)
    results = bench_sim(BenchOptions(workdir=tmp_path, quick=True))
    by_name = {r.name: r for r in results}
    assert set(by_name) == NAMES | {"sim.robosuite_lift.adapter_step"}
    adapter = by_name["sim.robosuite_lift.adapter_step"]
    assert (adapter.value, adapter.reference) == (24.0, 25.0)
    for name in ("sim.tactile_insertion.step", "sim.tactile_insertion.step.native_tactile"):
        result = by_name[name]
        assert result.reference == 25.0 and result.unit == "steps/s" and result.higher_is_better
        assert "robosuite Lift" in result.reference_name
    peg = by_name["sim.peg_insertion.step"]
    assert peg.reference == 10.0 and peg.reference_name == "real time at 10 Hz"
    assert all(r.value > 0 for r in results)
    # the native 240x320 tactile images cost more than the default 60x80 ones
    native = by_name["sim.tactile_insertion.step.native_tactile"].value
    assert native < by_name["sim.tactile_insertion.step"].value
    assert "sim.tactile_insertion.step" in format_table(results)


def test_bench_sim_without_robosuite_uses_real_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_module, "measure_robosuite_lift", lambda steps: None)
    results = bench_sim(BenchOptions(workdir=tmp_path, quick=True))
    assert {r.name for r in results} == NAMES
    insertion = next(r for r in results if r.name == "sim.tactile_insertion.step")
    assert insertion.reference == 20.0
    assert insertion.reference_name == "real time at 20 Hz (no robosuite venv)"
