"""The real-time loop on the sim twin with a (barely) trained policy, and the faults it must
survive: a camera that stops, inference slower than the control period, a 1 s spike."""

from __future__ import annotations

import itertools
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import launch.executor
from launch.action_safety import plan_safety
from launch.executor import TimedChunk
from launch.keyboard import EpisodeKeys
from launch.realtime import TIMING_KEYS, RealtimeRunner, record_schema
from launch.run_plan import RunConfig
from policies import policy_config_from_dict
from policies.base import ACTION_KEY, Policy
from policies.checkpoint import load_policy
from sensing.store import EpisodeStore, EpisodeWriter
from sim import PegInsertionConfig, make_env
from sim.rig import SimRig
from tests.conftest import TINY_TASK
from tests.policies.conftest import TINY_DIFFUSION, tiny_config
from training.trainer import TrainConfig, train

PERIOD = 0.1  # peg insertion's 10 Hz


@pytest.fixture(scope="module")
def checkpoint(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    root = tmp_path_factory.mktemp("realtime")
    return train(tiny_config(), config, demo_store, root / "run", progress=False).checkpoint


@pytest.fixture(scope="module")
def diffusion(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    root = tmp_path_factory.mktemp("realtime_diffusion")
    policy = policy_config_from_dict({"name": "diffusion", **TINY_DIFFUSION})
    return train(policy, config, demo_store, root / "run", progress=False).checkpoint


@pytest.fixture(scope="module")
def rig() -> Iterator[SimRig]:
    config = PegInsertionConfig.model_validate(TINY_TASK)
    rig = SimRig(lambda: make_env("peg_insertion", config), {}, stale_after_s=0.15)
    yield rig
    rig.close()


@pytest.fixture(scope="module")
def flow(demo_store: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    config = TrainConfig(steps=2, batch_size=4, warmup_steps=1, val_ratio=0.0, threads=1)
    root = tmp_path_factory.mktemp("realtime_flow")
    policy = policy_config_from_dict({"name": "diffusion", **TINY_DIFFUSION, "objective": "flow"})
    return train(policy, config, demo_store, root / "run", progress=False).checkpoint


def run_one(
    rig: SimRig, checkpoint: Path, tmp_path: Path, seconds: float, **run: Any
) -> tuple[Any, dict[str, np.ndarray]]:
    """One episode with [run] settings `run`: (report, the recorded episode's arrays)."""
    config = RunConfig.model_validate(run)
    writer = EpisodeWriter.create(tmp_path / "e.zarr", record_schema(rig))
    task = PegInsertionConfig.model_validate(TINY_TASK)
    safety = plan_safety(rig.action_spec[ACTION_KEY], rig.observation_spec, task, config.safety)
    runner = RealtimeRunner(rig, load_policy(checkpoint), config, safety, writer, task="peg")
    try:
        report = runner.run_episode(seed=5, max_seconds=seconds)
    finally:
        runner.close()
        writer.close()
    store = EpisodeStore.open(tmp_path / "e.zarr")
    assert store.n_episodes == 1  # every run is recorded, whatever ended it
    episode = store.episode(0)
    return report, {k: np.asarray(episode[k]) for k in (ACTION_KEY, *TIMING_KEYS)}


def test_an_episode_sends_the_chunks_actions_and_records_every_tick(
    rig: SimRig, checkpoint: Path, tmp_path: Path
) -> None:
    report, data = run_one(rig, checkpoint, tmp_path, 2.0)
    assert report.ended == "time limit"
    assert len(data[ACTION_KEY]) == report.ticks >= 15
    sent = ~np.isnan(data[ACTION_KEY]).any(axis=1)
    assert sent.sum() == report.sent >= report.ticks - 4  # held only while the first came
    assert report.over_budget <= len(report.inference_ms) // 4  # (a loaded machine: a few)
    assert report.dropped_actions >= 1  # slot 0 passes while its chunk is computed
    age = data["timing.obs_age_ms"][sent, 0]
    assert np.all(age > 0) and np.all(np.isnan(data["timing.obs_age_ms"][~sent]))
    # a chunk's first command comes one or two ticks after its frames, plus their age
    assert 0 < np.median(report.sensor_to_command_ms) < 4 * PERIOD * 1000
    assert report.seams is not None and report.seams.seams >= 3


@pytest.mark.parametrize("latency_ms", [0, 2000])
def test_a_camera_that_stops_holds_the_arm_at_once_and_keeps_the_episode(
    rig: SimRig, checkpoint: Path, tmp_path: Path, latency_ms: int
) -> None:
    # with 2 s inference the policy cannot notice in time: the loop's own watchdog must
    inject = {"stop_stream": "rgb.scene", "stop_at_s": 0.8, "latency_ms": latency_ms}
    report, data = run_one(rig, checkpoint, tmp_path, 5.0, inject=inject)
    assert report.sent > 0 or latency_ms
    assert report.ended.startswith("device: rgb.scene: stale")
    assert report.held_at is not None
    assert report.last_command_t <= report.held_at  # no step applied a command after the hold
    # found within its max age (two periods) of the last frame, plus a tick
    assert report.seconds < 0.8 + 3 * PERIOD + 0.5
    assert len(data[ACTION_KEY]) == report.ticks > 3  # the episode so far is kept


def test_inference_slower_than_the_period_keeps_executing_the_current_chunk(
    rig: SimRig, checkpoint: Path, tmp_path: Path
) -> None:
    report, data = run_one(rig, checkpoint, tmp_path, 3.0, inject={"latency_ms": 150})
    assert report.over_budget == len(report.inference_ms) >= 3  # every call, counted
    sent = ~np.isnan(data[ACTION_KEY]).any(axis=1)
    assert sent.sum() >= report.ticks // 2  # the chunk's tail covers the latency
    assert report.dropped_actions >= 2 * len(report.inference_ms)  # 150 ms: two slots pass


def test_a_one_second_spike_holds_instead_of_sending_stale_actions_then_resumes(
    rig: SimRig, checkpoint: Path, tmp_path: Path
) -> None:
    inject = {"spike_ms": 1000, "spike_at_s": 0.5}
    report, data = run_one(rig, checkpoint, tmp_path, 3.5, inject=inject)
    assert max(report.inference_ms) >= 1000 and report.over_budget >= 1
    sent = ~np.isnan(data[ACTION_KEY]).any(axis=1)
    # a chunk covers 0.5 s (5 actions): the arm held through the rest of the spike ...
    assert report.starved >= 3
    held = np.flatnonzero(~sent[3:]) + 3
    assert held.size and sent[held[-1] + 1 :].sum() >= 5  # ... and went on after it


def test_every_command_keeps_the_supervisors_speed_even_across_a_spike(
    rig: SimRig, checkpoint: Path, tmp_path: Path
) -> None:
    """A tight TCP speed (5 mm per tick): the policy asks for more, the supervisor clips, and
    no two commands sent, holds between them or not, are further apart."""
    safety = {"max_tcp_speed": 0.05, "max_joint_speed": 0.05}
    inject = {"spike_ms": 600, "spike_at_s": 0.5}
    report, data = run_one(rig, checkpoint, tmp_path, 3.0, safety=safety, inject=inject)
    sent = data[ACTION_KEY][~np.isnan(data[ACTION_KEY]).any(axis=1), :3]
    steps = np.linalg.norm(np.diff(sent, axis=0), axis=1)
    assert report.clips.get("tcp_speed", 0) + report.clips.get("joint_speed", 0) >= 1
    assert steps.max() <= 0.05 * PERIOD + 1e-6


def seam_gaps(
    monkeypatch: pytest.MonkeyPatch, rig: SimRig, checkpoint: Path, tmp_path: Path, **run: Any
) -> list[float]:
    """Per chunk that arrived while the last one still had an action for its tick: the
    largest difference between the two chunks' actions for that tick."""
    added: list[tuple[TimedChunk, float]] = []
    add = launch.executor.ChunkExecutor.add

    def spy(self: launch.executor.ChunkExecutor, chunk: TimedChunk, now: float) -> None:
        added.append((chunk, now))
        add(self, chunk, now)

    monkeypatch.setattr(launch.executor.ChunkExecutor, "add", spy)
    tmp_path.mkdir(parents=True, exist_ok=True)
    run_one(rig, checkpoint, tmp_path, 2.5, inject={"latency_ms": 100}, **run)
    monkeypatch.undo()
    gaps = []
    for (old, _), (new, now) in itertools.pairwise(added):
        i_old, i_new = old.slot(now), new.slot(now)
        if i_old is not None and i_new is not None:
            gaps.append(float(np.abs(new.actions[i_new] - old.actions[i_old]).max()))
    return gaps


def test_real_time_chunking_starts_each_chunk_where_the_last_one_is(
    rig: SimRig, diffusion: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untrained diffusion policy draws wildly different chunks; inpainted, each new one
    serves, at the tick it arrives, the action the old one would have served."""
    gaps = seam_gaps(monkeypatch, rig, diffusion, tmp_path, join="rtc")
    exact = [g < 1e-4 for g in gaps]  # (a call slower than every one of the last five is
    assert len(gaps) >= 4 and sum(exact) >= 0.75 * len(gaps)  # pinned softly, not exactly)


def test_gradient_guided_chunks_start_near_where_the_last_one_is(
    rig: SimRig, flow: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An untrained flow policy through the loop with RTC's gradient guidance (a thread,
    under inference mode): its seams are much smaller than switching's, not zero."""
    switched = seam_gaps(monkeypatch, rig, flow, tmp_path / "s", join="switch")
    guided = seam_gaps(monkeypatch, rig, flow, tmp_path / "g", join="rtc", rtc_guidance=5.0)
    assert len(switched) >= 4 and len(guided) >= 4
    assert 0 < np.median(guided) < 0.5 * np.median(switched)


def test_the_operator_stops_or_re_records_an_episode(
    rig: SimRig, checkpoint: Path, tmp_path: Path
) -> None:
    config = RunConfig()
    task = PegInsertionConfig.model_validate(TINY_TASK)
    writer = EpisodeWriter.create(tmp_path / "e.zarr", record_schema(rig))
    runner = RealtimeRunner(rig, load_policy(checkpoint), config,
                            plan_safety(rig.action_spec[ACTION_KEY], rig.observation_spec, task,
                                        config.safety), writer)  # fmt: skip
    read, write = os.pipe()
    try:
        with EpisodeKeys(read) as keys:
            threading.Timer(1.5, os.write, (write, b"r")).start()
            dropped = runner.run_episode(5, 5.0, keys)
            threading.Timer(1.5, os.write, (write, b"s")).start()  # into the episode
            kept = runner.run_episode(5, 5.0, keys)
    finally:
        runner.close()
        writer.close()
        os.close(read)
        os.close(write)
    assert (dropped.ended, kept.ended) == ("re-record", "stopped by the operator")
    assert dropped.ticks >= 3 and kept.ticks >= 3 and kept.seconds < 3.0
    store = EpisodeStore.open(tmp_path / "e.zarr")
    assert store.n_episodes == 1 and store.episode_meta(0)["notes"] == "stopped by the operator"


def test_a_policy_that_fails_mid_episode_holds_the_arm_and_says_so(
    rig: SimRig, checkpoint: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    plan = Policy.plan

    def failing(self: Policy, *args: Any, **kwargs: Any) -> np.ndarray:
        calls.append(1)
        if len(calls) > 3:  # the warm-up and two chunks go through
            raise RuntimeError("CUDA out of memory")
        return plan(self, *args, **kwargs)

    monkeypatch.setattr(Policy, "plan", failing)
    report, data = run_one(rig, checkpoint, tmp_path, 5.0)
    assert report.ended.startswith("device: inference: RuntimeError('CUDA out of memory')")
    assert report.seconds < 2.0 and len(data[ACTION_KEY]) == report.ticks  # kept
