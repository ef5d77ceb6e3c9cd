"""`bench_sim`: env steps/s with only `step` timed (resets and the expert's thinking are not),
against robosuite measured in the same run, or real time without it. Checked through a fake
clock that each step advances by 10 ms and each reset by a whole second."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

import launch.benchmarks.sim as bench_module
from launch.bench import BenchOptions, format_table
from launch.benchmarks.robosuite import RobosuiteLiftSpeed
from launch.benchmarks.sim import FLAGSHIP_GOAL, bench_sim
from tests.launch.fake_clock import FakeClock
from tests.launch.test_bench_robosuite import SAMPLE

NAMES = [
    "sim.tactile_insertion.step",
    "sim.tactile_insertion.step.native_tactile",
    "sim.peg_insertion.step",
]


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    clock = FakeClock()
    monkeypatch.setattr(bench_module, "time", clock.as_time_module())
    for name in ("TactileInsertionEnv", "PegInsertionEnv"):
        real = getattr(bench_module, name)

        class Timed(real):  # type: ignore[valid-type, misc]
            def step(self, action: Any) -> Any:
                clock.advance(0.010)
                return super().step(action)

            def reset(self, **kwargs: Any) -> Any:
                clock.advance(1.0)  # would show in the figure if resets were timed
                return super().reset(**kwargs)

        monkeypatch.setattr(bench_module, name, Timed)
    return clock


def _robosuite(steps: int) -> RobosuiteLiftSpeed:
    return replace(SAMPLE, raw_steps_per_s=25.0, adapter_steps_per_s=24.0, steps=steps)


def test_steps_per_second_time_the_steps_only_against_robosuite(
    clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_module, "measure_robosuite_lift", _robosuite)
    results = {r.name: r for r in bench_sim(BenchOptions(workdir=tmp_path, quick=True))}
    assert list(results) == [*NAMES[:2], "sim.robosuite_lift.adapter_step", NAMES[2]]
    for name in NAMES:
        assert results[name].value == pytest.approx(100.0), name  # 10 ms a step, exactly
    flagship = results["sim.tactile_insertion.step"]
    assert flagship.reference == 25.0 and "robosuite Lift" in flagship.reference_name
    assert flagship.goal == FLAGSHIP_GOAL and flagship.meets_goal is False  # 4x < 10x
    assert results["sim.tactile_insertion.step.native_tactile"].goal is None
    adapter = results["sim.robosuite_lift.adapter_step"]
    assert adapter.ratio == pytest.approx(24.0 / 25.0)
    peg = results["sim.peg_insertion.step"]
    assert (peg.reference, peg.goal, peg.meets_goal) == (10.0, 1.0, True)
    assert ">=10x: NOT met" in format_table(list(results.values()))


def test_without_robosuite_the_reference_is_real_time(
    clock: FakeClock, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bench_module, "measure_robosuite_lift", lambda steps: None)
    results = {r.name: r for r in bench_sim(BenchOptions(workdir=tmp_path, quick=True))}
    assert list(results) == NAMES
    insertion = results["sim.tactile_insertion.step"]
    assert insertion.reference == 20.0  # the benchmark runs the task at 20 Hz
    assert insertion.reference_name == "real time at 20 Hz (no robosuite venv)"
    assert insertion.goal is None  # the 10x goal is against robosuite only
