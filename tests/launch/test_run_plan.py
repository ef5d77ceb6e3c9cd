"""[run]: its defaults and refusals, and every shipped launch file's modelled streams exist."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from launch.launch_file import load_launch
from launch.run_plan import RunConfig, StreamSection
from sim import make_env
from sim.tasks import task_env
from tests.policies.conftest import tiny_policy_config

LAUNCH = Path(__file__).resolve().parents[2] / "launch"


def test_a_streams_max_age_defaults_to_two_periods_plus_its_delays() -> None:
    assert StreamSection().max_age_s(10.0) == pytest.approx(0.2)
    slow = StreamSection(rate_hz=5.0, latency_ms=30.0, jitter_ms=10.0)
    assert slow.max_age_s(10.0) == pytest.approx(0.4 + 0.04)
    fast = StreamSection(rate_hz=30.0)  # no faster than the sim's steps
    assert fast.max_age_s(10.0) == pytest.approx(0.2)
    assert StreamSection(max_age_ms=50.0).max_age_s(10.0) == pytest.approx(0.05)


def test_the_lockstep_ensemble_is_refused_with_the_real_time_one_named() -> None:
    with pytest.raises(ValidationError, match="join = 'ensemble'"):
        RunConfig.model_validate({"inference": {"temporal_ensemble": 0.1}})
    with pytest.raises(ValidationError, match="join = 'rtc'"):
        RunConfig.model_validate({"inference": {"rtc": True}})


@pytest.mark.parametrize(
    ("lockstep", "run", "expected"),
    [
        ({}, {}, ("switch", 0.01)),
        ({"rtc": True}, {}, ("rtc", 0.01)),
        ({"temporal_ensemble": 0.2}, {}, ("ensemble", 0.2)),
        ({"temporal_ensemble": 0.2}, {"ensemble_k": 0.5}, ("ensemble", 0.5)),
        ({"rtc": True}, {"join": "switch"}, ("switch", 0.01)),  # the launch file's word wins
        ({}, {"join": "ensemble"}, ("ensemble", 0.01)),
    ],
)
def test_a_join_left_out_is_the_checkpoints_lockstep_one(
    lockstep: dict[str, object], run: dict[str, object], expected: tuple[str, float]
) -> None:
    policy = tiny_policy_config("diffusion", **lockstep)
    config = RunConfig.model_validate(run)
    assert config.chunk_join(policy) == expected
    resolved = config.resolved(policy)
    assert (resolved.join, resolved.ensemble_k) == expected
    assert resolved.chunk_join(tiny_policy_config("diffusion")) == expected  # now fixed


@pytest.mark.parametrize(
    "name",
    # a real rig's streams: tests/launch/test_rig_assembly.py
    sorted(p.name for p in LAUNCH.glob("*.toml") if "[run]" in p.read_text()
           and "[rig" not in p.read_text()),
)  # fmt: skip
def test_each_shipped_run_section_models_streams_its_task_has(name: str) -> None:
    launch = load_launch(LAUNCH / name)
    env = make_env(launch.config.task.name, launch.task_config)
    try:
        keys = set(task_env(env).observation_spec())
    finally:
        env.close()
    streams = launch.config.run.streams
    assert streams and set(streams) <= keys
