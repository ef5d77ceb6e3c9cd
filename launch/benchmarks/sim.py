"""Simulation speed: PegInsertion env steps/s against real time, tactile frame cost against 25 fps.

- `sim.peg_insertion.step`: env steps per second with the default observations (64x64 scene
  camera, two 32x32 tactile images, proprio), one process, the scripted expert acting; resets
  are not timed. Reference: the control rate, i.e. real time.
- `sim.tactile.frame`: milliseconds to produce one tactile image (ray cast + shading) for a pad
  pressed on the grasped peg. Reference: the 40 ms frame period of a GelSight Mini at 25 fps.
"""

from __future__ import annotations

import time

from launch.bench import BenchOptions, BenchResult
from sim import PegInsertionEnv, PegInsertionExpert
from sim.scene import PADS
from sim.tactile import GelShader, TactilePad

GELSIGHT_MINI_FPS = 25.0


def bench_sim(options: BenchOptions) -> list[BenchResult]:
    env = PegInsertionEnv()
    try:
        steps_per_s = _env_steps_per_s(env, steps=40 if options.quick else 400)
        frame_ms = _tactile_ms_per_frame(env, frames=50 if options.quick else 1000)
    finally:
        env.close()
    hz = env.config.control_hz
    return [
        BenchResult(
            name="sim.peg_insertion.step",
            value=steps_per_s,
            unit="steps/s",
            reference=hz,
            reference_name=f"real time at {hz:g} Hz",
        ),
        BenchResult(
            name="sim.tactile.frame",
            value=frame_ms,
            unit="ms/frame",
            reference=1000.0 / GELSIGHT_MINI_FPS,
            reference_name=f"GelSight Mini frame budget at {GELSIGHT_MINI_FPS:g} fps",
            higher_is_better=False,
        ),
    ]


def _env_steps_per_s(env: PegInsertionEnv, steps: int) -> float:
    expert = PegInsertionExpert(env)
    elapsed, done, episode = 0.0, True, 0
    for _ in range(steps):
        if done:
            env.reset(seed=episode)
            expert.reset(episode)
            episode += 1
        action = expert.act()
        start = time.perf_counter()
        _, _, terminated, truncated, _ = env.step(action)
        elapsed += time.perf_counter() - start
        done = terminated or truncated
    return steps / elapsed


def _tactile_ms_per_frame(env: PegInsertionEnv, frames: int) -> float:
    env.reset(seed=0)  # the peg is grasped: the pad sees a contact
    cfg = env.config
    gel = cfg.gel_thickness_mm / 1000.0
    pad = TactilePad(env.model, PADS[0], env.scene.pad_half, cfg.tactile_size, gel)
    shader = GelShader(cfg.tactile_size, pad.pixel_pitch[0], gel)
    start = time.perf_counter()
    for _ in range(frames):
        shader.shade(pad.indentation(env.model, env.data))
    return (time.perf_counter() - start) / frames * 1000.0
