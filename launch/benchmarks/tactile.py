"""Tactile rendering speed: ms per frame at native resolution against the sensors' frame budgets.

For each profile (GelSight Mini 240x320 at 25 fps: 40 ms; DIGIT 320x240 at 60 fps: 16.7 ms), a
`sim.tactile.TactileSensor` on the left pad of `PegInsertionEnv` after a reset (the grasped peg
presses on most of the pad: the contact is present and large, the costly case) produces frames
on one thread (`cv2.setNumThreads(1)`, restored afterwards), noise off. A frame is one full
`read()`: ray casts, shading, markers (the Mini's default), upsampling, contact forces.
The figure is the best of several timed batches, as `timeit` advises: other load on a shared
machine only ever adds time.

Two results per profile: `tactile.<profile>.frame` against the sensor's frame budget, and
`tactile.<profile>.goal` (the same figure) against the 2 ms/frame goal for rendering in
simulation loops.
"""

from __future__ import annotations

import time

import cv2

from launch.bench import BenchOptions, BenchResult
from sim import PegInsertionEnv
from sim.scene import PADS
from sim.tactile import PROFILES, TactileSensor

GOAL_MS = 2.0  # per frame, one core
BENCH_PROFILES = ("gelsight_mini", "digit")


def bench_tactile(options: BenchOptions) -> list[BenchResult]:
    env = PegInsertionEnv()
    threads = cv2.getNumThreads()
    results: list[BenchResult] = []
    try:
        env.reset(seed=0)
        cv2.setNumThreads(1)
        for name in BENCH_PROFILES:
            frame_ms = _ms_per_frame(env, name, batches=3 if options.quick else 7, frames=20)
            profile = PROFILES[name]
            h, w = profile.image_size
            results += [
                BenchResult(
                    name=f"tactile.{name}.frame",
                    value=frame_ms,
                    unit="ms/frame",
                    reference=profile.frame_budget_ms,
                    reference_name=f"{name} {h}x{w} frame budget at {profile.fps:g} fps",
                    higher_is_better=False,
                    goal=1.0,
                ),
                BenchResult(
                    name=f"tactile.{name}.goal",
                    value=frame_ms,
                    unit="ms/frame",
                    reference=GOAL_MS,
                    reference_name=f"goal: {GOAL_MS:g} ms/frame on one core",
                    higher_is_better=False,
                    goal=1.0,
                ),
            ]
    finally:
        cv2.setNumThreads(threads)
        env.close()
    return results


def _ms_per_frame(env: PegInsertionEnv, profile: str, batches: int, frames: int) -> float:
    """Best over `batches` of the mean time of `frames` reads, milliseconds."""
    sensor = TactileSensor(env.model, PADS[0], PADS[0], profile)
    reading = sensor.read(env.model, env.data)  # warm-up; also checks the contact is there
    if not reading.depth.any():
        raise RuntimeError(f"the {profile} pad sees no contact after reset: nothing to measure")
    times = []
    for _ in range(batches):
        start = time.perf_counter()
        for _ in range(frames):
            sensor.read(env.model, env.data)
        times.append((time.perf_counter() - start) / frames * 1000.0)
    return min(times)
