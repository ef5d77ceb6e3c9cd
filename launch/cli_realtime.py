"""`vitac run LAUNCH`: a trained policy in real time on the sim twin (imported only when it
runs, so `vitac --help` never imports torch or MuJoCo).

Everything that can be refused is refused before anything moves: the launch file, the
checkpoint and whether it fits the task, the output directory, the modelled streams.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from drivers.spacemouse import SpaceMouse
from launch.config import ConfigError, check_new_path, resolve_device
from launch.jobs import portable
from launch.keyboard import HELP, EpisodeKeys, Key
from launch.launch_file import Launch, load_launch
from launch.real_rig import RealRig
from launch.realtime import (
    OPERATOR_ENDS,
    EpisodeReport,
    RealtimeRunner,
    record_schema,
    stream_ages,
    summary,
)
from launch.record import Recorded, record_episode
from launch.rig_assembly import check_streams, episode_seconds, make_rig, rig_safety, sim_rig
from launch.rig_streams import Rig, RigStreams
from launch.run_plan import RunConfig
from launch.teleop import HELP as TELEOP_HELP
from launch.teleop import KEYS as TELEOP_KEYS
from policies.checkpoint import load_policy
from policies.inference import prepare_inference
from sensing.store import EpisodeWriter
from sim.experts import expert_for
from sim.rig import ExpertBuilder
from training.run_dir import resolve_checkpoint

RESULTS = "run.json"
EPISODES = "episodes.zarr"
EPISODE_FIELDS = ("seed", "ended", "success", "ticks", "sent", "seconds", "over_budget",
                  "starved", "sim_holds", "sim_overruns")  # fmt: skip


def _launch(args: argparse.Namespace) -> tuple[Launch, RunConfig]:
    """The launch file with --set applied, and its [run] with --episodes."""
    launch = load_launch(args.launch, args.overrides)
    config = launch.config.run
    if args.episodes is not None:
        config = config.model_copy(update={"episodes": args.episodes})
    return launch, config


def run(args: argparse.Namespace) -> int:
    launch, config = _launch(args)
    checkpoint = _checkpoint(args.checkpoint, config, args.launch)
    out = args.out or Path("runs/run") / time.strftime("%Y%m%d-%H%M%S")
    check_new_path(out, "--out")
    policy = load_policy(checkpoint, resolve_device(args.device))
    try:
        policy = prepare_inference(policy, config.inference)
    except ValueError as err:
        raise ConfigError(f"{args.launch}: run.inference does not fit {checkpoint}: {err}") from err
    resolved = config.resolved(policy.config)
    if config.join is None and resolved.join != "switch":
        print(f"run.join: {resolved.join}, as the checkpoint joins its chunks (set run.join to "
              "change)")  # fmt: skip
    config = resolved
    if config.join == "rtc" and not policy.can_inpaint:
        raise ConfigError(
            f"{args.launch}: run.join = 'rtc' inpaints a sampled chunk: {checkpoint} is a "
            f"{policy.config.name} policy that cannot (rtc needs diffusion with the ddim "
            "sampler, or flow); use switch or ensemble"
        )
    name, task_cfg = launch.config.task.name, launch.task_config
    rig = make_rig(launch, config, checkpoint, policy.io)
    reports: list[EpisodeReport] = []
    try:
        safety = rig_safety(rig, task_cfg, config, args.launch)
        out.mkdir(parents=True)
        writer = _writer(out, rig, launch, checkpoint) if config.record else None
        max_s = episode_seconds(config, task_cfg, rig.period)
        status = None if args.no_progress else _status
        try:
            runner = RealtimeRunner(rig, policy, config, safety, writer, status, name)
            _episodes(runner, config, max_s, reports)
        finally:
            if writer is not None:
                writer.close()
    finally:
        rig.close()
        if reports:  # the episodes run, also when an error ended the run
            results = summary(reports)
            if isinstance(rig, RealRig):
                results["arm_loop"] = rig.arm_report()
            record = _record(args, checkpoint, out, config, results, reports)
            (out / RESULTS).write_text(json.dumps(record, indent=2))
    if not reports:
        print("no episode ran")
        return 0
    for line in _lines(results, rig.period, rig.kind == "sim"):
        print(line)
    print(f"results: {out / RESULTS}" + (f"; episodes: {out / EPISODES}" if config.record else ""))
    return 0


def record(args: argparse.Namespace) -> int:
    """`vitac record`: the task's scripted expert drives the wall-clock sim twin, or the
    operator (keys, a SpaceMouse) drives it or the launch file's real rig; every stream and
    the actions are recorded through the rig's streams."""
    launch, config = _launch(args)
    teleop = args.source != "expert"
    if launch.config.rig is not None and not teleop:
        raise ConfigError(f"{args.launch}: the scripted expert acts in the simulator; on the "
                          "real rig of [rig] record with --source keyboard or "
                          "spacemouse")  # fmt: skip
    if (args.source == "spacemouse") != (args.spacemouse is not None):
        raise ConfigError("--spacemouse DEVICE goes with --source spacemouse, and only with it")
    check_new_path(args.out, "--out")
    keys = EpisodeKeys.from_terminal(passthrough=TELEOP_KEYS if teleop else "")
    if args.source == "keyboard" and not keys.interactive:
        raise ConfigError("--source keyboard reads keys from a terminal; stdin is not one")
    name, collect = launch.config.task.name, launch.config.collect
    expert: ExpertBuilder | None = None
    if not teleop:
        try:
            factory, kwargs = expert_for(name, collect.expert)
        except ValueError as err:
            raise ConfigError(f"{args.launch}: --source expert: {err}") from None
        expert = lambda env: factory(env, noise_std=collect.noise_std, **kwargs)  # noqa: E731
    spacemouse = SpaceMouse(args.spacemouse).connect() if args.spacemouse else None
    try:
        rig = make_rig(launch, config) if expert is None else sim_rig(launch, config, expert)
        try:
            recorded = _record_into(args, launch, config, rig, keys, spacemouse)
        finally:
            rig.close()
    finally:
        if spacemouse is not None:
            spacemouse.close()
    kept = [r for r in recorded if r.steps]
    print(f"recorded {len(kept)} episodes ({sum(r.success for r in kept)} successful, "
          f"{sum(r.steps for r in kept)} steps) into {args.out}")  # fmt: skip
    return 0


def _record_into(
    args: argparse.Namespace,
    launch: Launch,
    config: RunConfig,
    rig: Rig,
    keys: EpisodeKeys,
    spacemouse: SpaceMouse | None,
) -> list[Recorded]:
    """Every episode of `vitac record` on a built rig, into a new store at args.out."""
    check_streams(config, set(rig.streams), args.launch)
    teleop = args.source != "expert"
    safety = rig_safety(rig, launch.task_config, config, args.launch) if teleop else None
    specs = {**rig.observation_spec, **rig.action_spec}
    streams = RigStreams(rig.streams, specs, stream_ages(config, rig))
    attrs = {"task": launch.config.task.name, "rig": rig.kind, "source": args.source}
    try:
        writer = EpisodeWriter.create(args.out, specs, attrs)
        try:
            max_s = episode_seconds(config, launch.task_config, rig.period)
            if keys.interactive:
                print(HELP + ("; " + TELEOP_HELP if teleop else ""), file=sys.stderr)

            def one(seed: int) -> Recorded:
                return record_episode(rig, streams, writer, seed, max_s, keys,
                                      launch.config.task.name, config.inject.stop(), safety,
                                      spacemouse)  # fmt: skip

            with keys:
                return _each_episode(config, keys, one, lambda r: f"{r.steps} steps")
        finally:
            writer.close()
    finally:
        streams.close()


E = TypeVar("E", EpisodeReport, Recorded)


def _each_episode(
    config: RunConfig,
    keys: EpisodeKeys,
    one: Callable[[int], E],
    told: Callable[[E], str],
    out: list[E] | None = None,
) -> list[E]:
    """`one(seed)` for each of the run's episodes, printing how each ended (`told` adds to the
    line), appended to `out` as each ends; at a terminal the operator starts each,
    re-records one (the same seed again, the episode dropped) or aborts the rest."""
    out = [] if out is None else out
    i = 0
    while i < config.episodes:
        seed = config.seed + i
        if keys.interactive and _wait_start(keys, i, config.episodes, seed) is Key.ABORT:
            break
        result = one(seed)
        print(f"episode {i + 1}/{config.episodes} (seed {seed}): {result.ended}, {told(result)}",
              flush=True)  # fmt: skip
        if result.ended == OPERATOR_ENDS[Key.RERECORD]:
            continue
        out.append(result)
        i += 1
        if result.ended == OPERATOR_ENDS[Key.ABORT]:
            break
    return out


def _wait_start(keys: EpisodeKeys, i: int, episodes: int, seed: int) -> Key:
    print(f"episode {i + 1}/{episodes} (seed {seed}): Enter to start, q to quit",
          file=sys.stderr, flush=True)  # fmt: skip
    return keys.wait(Key.START, Key.ABORT)


def _checkpoint(flag: Path | None, config: RunConfig, launch: Path) -> Path:
    given = flag or (Path(config.checkpoint) if config.checkpoint else None)
    if given is None:
        raise ConfigError(f"{launch}: run.checkpoint is not set; give --checkpoint DIR")
    return resolve_checkpoint(given)


def _writer(out: Path, rig: Rig, launch: Launch, checkpoint: Path) -> EpisodeWriter:
    attrs = {"task": launch.config.task.name, "checkpoint": str(checkpoint), "rig": rig.kind}
    return EpisodeWriter.create(out / EPISODES, record_schema(rig), attrs)


def _episodes(
    runner: RealtimeRunner, config: RunConfig, max_s: float, reports: list[EpisodeReport]
) -> None:
    """Every episode of the run into `reports`, with the operator's keys at a terminal."""
    with EpisodeKeys.from_terminal() as keys:
        if keys.interactive:
            print(HELP, file=sys.stderr, flush=True)
        try:
            _each_episode(config, keys, lambda seed: runner.run_episode(seed, max_s, keys),
                          lambda r: f"{r.ticks} ticks, {r.seconds:.1f} s", reports)  # fmt: skip
        finally:
            runner.close()


def _status(line: str) -> None:
    print("  " + line, file=sys.stderr, flush=True)


def _lines(results: dict[str, Any], period: float, judged: bool) -> list[str]:
    """What `vitac run` prints; `judged`: whether the rig can tell success (the sim can)."""
    ms = period * 1000.0
    s2c, inf = results["sensor_to_command_ms"], results["inference_ms"]
    return [
        f"success: {results['successes']}/{results['episodes']}"
        if judged
        else f"episodes: {results['episodes']} (success is judged by the simulator only)",
        f"sensor -> command: p50 {s2c['p50']:.0f} ms, p99 {s2c['p99']:.0f} ms "
        f"(control period {ms:.0f} ms)",
        f"inference: p50 {inf['p50']:.0f} ms, p99 {inf['p99']:.0f} ms; over the period: "
        f"{results['over_budget']}",
        "supervisor limits applied: "
        + (", ".join(f"{k} {n}" for k, n in results["supervisor_clips"].items()) or "none"),
        f"held for lack of an action: {results['starved_ticks']} ticks; actions dropped "
        f"(arrived late): {results['dropped_actions']}; frames dropped: "
        f"{results['dropped_frames']}; control ticks missed: {results['missed_ticks']}",
        _seam_line(results),
        *_arm_lines(results.get("arm_loop")),
    ]


def _seam_line(results: dict[str, Any]) -> str:
    """The executor's largest position-command accelerations, or why there is none."""
    fmt = lambda v: "none measured" if v is None else f"{v:.2f} m/s^2"  # noqa: E731
    return (
        f"largest acceleration of the executor's position commands: at chunk seams "
        f"{fmt(results['seam_acceleration'])} ({results['seams']} seams, "
        f"{results['seam_ticks_measured']} ticks beside them without a hold), within chunks "
        f"{fmt(results['within_chunk_acceleration'])}"
    )


def _arm_lines(arm: dict[str, Any] | None) -> list[str]:
    """A real arm's loop: its ticks and its own supervisor's limits."""
    if not arm:
        return []
    clips = ", ".join(f"{k} {n}" for k, n in arm["clips"].items()) or "none"
    late = arm["lateness_ms"]
    return [f"arm loop: {arm['ticks']} ticks at {arm['rate_hz']:.0f} Hz, {arm['missed']} missed, "
            f"wake-up lateness p50 {late['p50']:.1f} ms, p99 {late['p99']:.1f} ms; tool poses "
            f"out of reach {arm['unreachable']}; its supervisor limited: {clips}"]  # fmt: skip


def _record(
    args: argparse.Namespace,
    checkpoint: Path,
    out: Path,
    config: RunConfig,
    results: dict[str, Any],
    reports: list[EpisodeReport],
) -> dict[str, Any]:
    command = ["vitac", "run", str(args.launch)]
    for item in args.overrides:
        command += ["--set", item]
    episodes = [{key: getattr(r, key) for key in EPISODE_FIELDS} for r in reports]
    return {
        "command": command,
        "checkpoint": portable(checkpoint, out),
        "config": config.model_dump(mode="json"),
        "summary": results,
        "episodes": episodes,
    }
