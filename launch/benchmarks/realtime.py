"""Real time: `vitac run` against lockstep `vitac eval`; latency; seams by join and latency.

One checkpoint of the demo's task (`--checkpoint`, or the demo's policy trained here from
launch/demo.toml) runs the same seeded episodes
- in lockstep (`vitac eval`: the sim waits for every action), and
- through the real-time loop (`vitac run`, launch/demo.toml's [run] streams: the sim steps in
  wall-clock time beside the loop, the camera and pads deliver late and jittered),
  with chunks joined by switching, by ACT's ensemble and (for a diffusion or flow policy) by
  real-time chunking (inpainting; for a flow policy also RTC's gradient guidance, beta 5),
  at 0, 100 and 300 ms of inference latency injected on top of the policy's own.
Reported: success through the loop against lockstep (goal: within each other's Wilson 95%
intervals), the sensor-to-command latency p50/p99 and inference p99 against the 100 ms
control period, and for each join and latency the largest acceleration of the commanded
position at chunk seams against the largest within chunks in the same episodes.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from launch.bench import BenchOptions, BenchResult
from launch.config import DEFAULT_LAUNCH_FILE
from launch.launch_file import Launch, load_launch

EPISODES, QUICK_EPISODES = 20, 2
SEED = 200_000  # apart from the demo's training (0..) and evaluation (100000..) seeds
RTC_BETA = 5.0  # RTC's guidance weight clip (Black et al. 2025)
SETTINGS = [("switch", 0), ("switch", 100), ("switch", 300), ("ensemble", 100),
            ("ensemble", 300), ("rtc", 100), ("rtc", 300), ("rtc-guided", 100),
            ("rtc-guided", 300)]  # fmt: skip
QUICK_SETTINGS = [("switch", 0), ("ensemble", 100)]
QUICK_OVERRIDES = [  # toy sizes: the pipeline, not its numbers
    "task.params.image_size=32", "task.params.tactile_size=16", "run.max_seconds=1.5",
    "collect.episodes=2", "train.steps=4", "train.batch_size=8", "train.val_ratio=0.0",
    "policy.conv_widths=[4, 8]", "policy.hidden_dim=32",
]  # fmt: skip


def bench_realtime(options: BenchOptions) -> list[BenchResult]:
    from launch.jobs import run_eval
    from launch.realtime import RealtimeRunner, summary
    from launch.rig_assembly import episode_seconds, rig_safety, sim_rig
    from launch.run_plan import RunConfig
    from policies.checkpoint import load_policy
    from training.eval_stats import wilson_interval
    from training.evaluate import EvalConfig

    launch = load_launch(DEFAULT_LAUNCH_FILE, QUICK_OVERRIDES if options.quick else [])
    checkpoint = options.checkpoint or _train(launch, options.workdir)
    episodes = QUICK_EPISODES if options.quick else EPISODES
    eval_config = EvalConfig(episodes=episodes, seed=SEED, baselines=[], videos=0)
    task = (launch.config.task.name, launch.task_config)
    (lockstep,) = run_eval(checkpoint, eval_config, progress=False, task=task)
    locked = sum(lockstep.successes)

    run = launch.config.run
    rig = sim_rig(launch, run)
    period_ms = rig.period * 1000.0
    max_s = episode_seconds(run, launch.task_config, rig.period)
    policy = load_policy(checkpoint)
    safety = rig_safety(rig, launch.task_config, run, DEFAULT_LAUNCH_FILE)
    results: list[BenchResult] = []
    try:
        for join, latency in QUICK_SETTINGS if options.quick else SETTINGS:
            if join.startswith("rtc") and not policy.can_inpaint:
                continue  # real-time chunking needs a diffusion or flow policy
            guided = join == "rtc-guided"
            if guided and getattr(policy.config, "objective", None) != "flow":
                continue  # gradient guidance: flow policies
            config = RunConfig.model_validate(
                run.model_dump() | {"join": "rtc" if guided else join,
                                    "rtc_guidance": RTC_BETA if guided else 0.0,
                                    "inject": {"latency_ms": latency}}
            )  # fmt: skip
            runner = RealtimeRunner(rig, policy, config, safety)
            try:
                reports = [runner.run_episode(SEED + i, max_s) for i in range(episodes)]
            finally:
                runner.close()
            figures = summary(reports)
            tag = f"{join}@{latency}ms"
            wins = figures["successes"]
            results.append(_success(tag, wins, locked, episodes, wilson_interval))
            if figures["seam_acceleration"] is not None:  # None: every seam beside a hold
                results.append(BenchResult(
                    f"realtime.seam_accel.{tag} ({figures['seam_ticks_measured']} ticks at "
                    f"{figures['seams']} seams)", figures["seam_acceleration"], "m/s^2",
                    figures["within_chunk_acceleration"] or 0.0,
                    "largest within chunks, same episodes", higher_is_better=False,
                ))  # fmt: skip
            if latency == 0:
                s2c, inf = figures["sensor_to_command_ms"], figures["inference_ms"]
                for name, value in (("sensor_to_command.p50", s2c["p50"]),
                                    ("sensor_to_command.p99", s2c["p99"]),
                                    ("inference.p99", inf["p99"])):  # fmt: skip
                    results.append(BenchResult(f"realtime.{name}.{tag}", value, "ms",
                                               period_ms, "the control period",
                                               higher_is_better=False))  # fmt: skip
    finally:
        rig.close()
    return results


def _success(
    tag: str, wins: int, locked: int, n: int, wilson: Callable[[int, int], tuple[float, float]]
) -> BenchResult:
    low, high = wilson(wins, n)
    ref_low, ref_high = wilson(locked, n)
    overlap = low <= ref_high and ref_low <= high
    return BenchResult(
        f"realtime.success.{tag} (95% {100 * low:.0f}-{100 * high:.0f}%; intervals "
        f"{'overlap' if overlap else 'apart'})",
        100.0 * wins / n, "%", 100.0 * locked / n,
        f"lockstep vitac eval, same seeds (95% {100 * ref_low:.0f}-{100 * ref_high:.0f}%)",
    )  # fmt: skip


def _train(launch: Launch, workdir: Path) -> Path:
    """The demo's policy: its demonstrations and training, as `vitac demo` makes them."""
    from launch.jobs import run_collect, run_train

    collected = run_collect(launch, workdir / "demos.zarr", progress=False)
    return run_train(launch, collected.path, workdir / "train", progress=False).checkpoint
