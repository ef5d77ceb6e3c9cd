"""Simulation speed: env steps/s against robosuite (same run) and against real time.

All envs run in one process with their scripted expert acting; resets are not timed. The
TactileInsertion cases step at 20 Hz, robosuite's default control rate, so that one step is
the same 50 ms of simulated physics (25 substeps of 2 ms) on both sides.

- `sim.tactile_insertion.step`: the flagship task with two 84x84 RGB cameras (scene + wrist),
  two tactile images at the env's default size (60x80) and proprio. Reference: robosuite Lift
  with two 84x84 cameras (agentview + eye-in-hand; shadows and reflections off, which is
  robosuite's fast case), measured in the same run in the robosuite venv
  (`launch.benchmarks.robosuite`). Goal: >= 10x (FLAGSHIP_GOAL).
- `sim.tactile_insertion.step.native_tactile`: the same with both tactile images at the
  GelSight Mini's native 240x320, against the same robosuite figure.
- When no robosuite venv exists (`make robosuite-venv`), both are reported against real time
  at the env's control rate instead, and a log line says why.
- `sim.robosuite_lift.adapter_step`: robosuite Lift through vitac's adapter against raw
  robosuite in the same subprocess: the adapter's overhead (only with the robosuite venv).
- `sim.peg_insertion.step`: the gantry peg-insertion task of the demo (64x64 camera, two 32x32
  tactile images). Reference: real time at its control rate; goal: at least real time.
"""

from __future__ import annotations

import time
from typing import Any

import gymnasium as gym

from launch.bench import BenchOptions, BenchResult
from launch.benchmarks.robosuite import measure_robosuite_lift
from sim.experts import EXPERTS
from sim.tasks import task_env
from sim.tasks.peg_insertion import PegInsertionEnv
from sim.tasks.tactile_insertion import TactileInsertionEnv

_AT_20HZ = {"control_hz": 20.0, "max_steps": 200}
FLAGSHIP_GOAL = 10.0  # x robosuite Lift


def bench_sim(options: BenchOptions) -> list[BenchResult]:
    steps = 60 if options.quick else 600
    cases: list[tuple[str, gym.Env[Any, Any], str]] = [
        ("sim.tactile_insertion.step", TactileInsertionEnv(_AT_20HZ), "tactile_insertion"),
        (
            "sim.tactile_insertion.step.native_tactile",
            TactileInsertionEnv({**_AT_20HZ, "tactile_size": None}),
            "tactile_insertion",
        ),
    ]
    robosuite = measure_robosuite_lift(steps=30 if options.quick else 200)
    results = []
    for name, env, task in cases:
        try:
            rate = env_steps_per_s(env, task, steps)
        finally:
            env.close()
        if robosuite is not None:
            reference = robosuite.raw_steps_per_s
            reference_name = "robosuite Lift, 2 cams 84x84, same run"
        else:
            reference = task_env(env).control_hz
            reference_name = f"real time at {reference:g} Hz (no robosuite venv)"
        goal = FLAGSHIP_GOAL if name == "sim.tactile_insertion.step" and robosuite else None
        results.append(BenchResult(name, rate, "steps/s", reference, reference_name, goal=goal))
    if robosuite is not None:
        results.append(
            BenchResult(
                "sim.robosuite_lift.adapter_step",
                robosuite.adapter_steps_per_s,
                "steps/s",
                robosuite.raw_steps_per_s,
                "raw robosuite Lift, same process",
            )
        )
    peg = PegInsertionEnv()
    try:
        rate = env_steps_per_s(peg, "peg_insertion", steps)
    finally:
        peg.close()
    hz = peg.config.control_hz
    results.append(
        BenchResult(
            "sim.peg_insertion.step", rate, "steps/s", hz, f"real time at {hz:g} Hz", goal=1.0
        )
    )
    return results


def env_steps_per_s(env: gym.Env[Any, Any], task: str, steps: int) -> float:
    """Control steps per second of `env` driven by the task's expert (resets not timed)."""
    expert = EXPERTS[task](env)
    elapsed, done, episode = 0.0, True, 0
    obs: dict[str, Any] = {}
    for _ in range(steps):
        if done:
            obs, _ = env.reset(seed=episode)
            expert.reset(episode)
            episode += 1
        action = expert.act(obs)
        start = time.perf_counter()
        obs, _, terminated, truncated, _ = env.step(action)
        elapsed += time.perf_counter() - start
        done = terminated or truncated
    return steps / elapsed
