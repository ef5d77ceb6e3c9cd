"""The handlers of `vitac dataset info | verify | repair` and `vitac bench` (imported only
when one runs)."""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from launch.config import ConfigError, check_output_file
from sensing.store import EpisodeStore, pending_repairs, repair_store


def info(args: argparse.Namespace) -> int:
    print(EpisodeStore.open(args.path).summary())
    return 0


def verify(args: argparse.Namespace) -> int:
    store = EpisodeStore.open(args.path)
    chunks = store.verify()
    print(
        f"{args.path}: ok: {store.n_episodes} episodes, {store.n_frames} frames; "
        f"{chunks} chunks decoded, every CRC32 matches"
    )
    pending = pending_repairs(args.path)
    if pending:
        print(
            f"{args.path}: an interrupted writer left {'; '.join(pending)}; vitac ignores "
            f"them, foreign readers may not: vitac dataset repair {args.path}"
        )
    return 0


def repair(args: argparse.Namespace) -> int:
    repaired = repair_store(args.path)
    what = f"removed {'; '.join(repaired)}" if repaired else "nothing to repair"
    store = EpisodeStore.open(args.path)
    print(f"{args.path}: {what}; {store.n_episodes} committed episodes kept")
    return 0


def view(args: argparse.Namespace) -> int:
    from sensing.errors import DatasetError
    from training.video import image_keys, stored_episode_frames, write_video

    store = EpisodeStore.open(args.path)
    n, i = store.n_episodes, args.episode
    if not -n <= i < n:
        raise DatasetError(
            f"{args.path}: no episode {i}; it has {n} episode(s)" + (f", 0..{n - 1}" if n else "")
        )
    i %= n
    out = args.out or Path("runs/view") / f"{args.path.resolve().name}_episode_{i}.mp4"
    check_output_file(out, "--out")
    if out.exists():
        raise ConfigError(f"--out {out} exists; choose a new file (nothing is overwritten)")
    episode = store.episode(i)
    frames = stored_episode_frames(episode)
    steps = np.diff(episode["timestamp"])
    fps = 1.0 / float(np.median(steps)) if len(steps) and np.median(steps) > 0 else 10.0
    write_video(out, frames, fps)
    shown = image_keys({k: v[0] for k, v in episode.items()})
    print(f"{out}: episode {i} of {args.path}, {len(frames)} frames at {fps:g} fps: {shown}")
    return 0


def bench(args: argparse.Namespace) -> int:
    from launch.bench import BenchOptions, BenchResult, describe, format_table, run_benchmarks
    from launch.benchmarks import BENCHMARKS
    from training.run_dir import resolve_checkpoint

    if args.list:
        width = max(map(len, BENCHMARKS))
        for name, benchmark in BENCHMARKS.items():
            print(f"{name:<{width}}  {describe(benchmark)}")
        return 0
    check_output_file(args.json, "--json")
    checkpoint = None if args.checkpoint is None else resolve_checkpoint(args.checkpoint)
    total = len(args.names) or len(BENCHMARKS)
    finished: list[str] = []

    def report(name: str, results: list[BenchResult], seconds: float) -> None:
        # each benchmark's figures as soon as it ends (a full run takes many minutes)
        finished.append(name)
        print(f"[{len(finished)}/{total}] {name} ({seconds:.0f} s)", flush=True)
        print(format_table(results), flush=True)

    with tempfile.TemporaryDirectory(prefix="vitac-bench-") as tmp:
        results = run_benchmarks(
            args.names,
            BENCHMARKS,
            BenchOptions(Path(tmp), quick=args.quick, checkpoint=checkpoint),
            json_path=args.json,
            on_done=report,
        )
    if len(finished) > 1:
        print("all:")
        print(format_table(results))
    print(f"json: {args.json}")
    return 0


def action_error(args: argparse.Namespace) -> int:
    import json

    from launch.jobs import check_policy_fits_schema, inference_overrides
    from policies.base import ACTION_KEY
    from policies.checkpoint import load_policy
    from policies.inference import prepare_inference
    from sensing.errors import DatasetError
    from training.action_error import POSITION_KEY, format_table
    from training.action_error import action_error as measure
    from training.run_dir import resolve_checkpoint

    if args.json is not None:
        check_output_file(args.json, "--json")
    if args.windows < 1:
        raise ConfigError(f"--windows must be >= 1, got {args.windows}")
    store = EpisodeStore.open(args.path)
    checkpoint = resolve_checkpoint(args.checkpoint)
    policy = load_policy(checkpoint).eval()
    inference = inference_overrides(args.overrides, policy.config, checkpoint)
    prepare_inference(policy, inference)
    keys = list(policy.io.obs_shapes)
    check_policy_fits_schema(checkpoint, policy.io, store.schema, f"store {args.path}")
    missing = sorted({POSITION_KEY, ACTION_KEY} - set(store.schema))
    if missing:
        raise DatasetError(f"{args.path}: has no {missing}; it has {store.keys}")
    data = store.load([*keys, *{POSITION_KEY, ACTION_KEY} - set(keys)])
    rows = measure(policy, data, np.asarray(store.episode_ends), args.windows, args.seed)
    print(format_table(rows))
    if args.json is not None:
        record = {"checkpoint": str(checkpoint), "store": str(args.path), "seed": args.seed}
        record["inference"] = inference.model_dump(mode="json")
        record["n_action_steps"] = policy.config.n_action_steps  # as it ran
        args.json.write_text(json.dumps(record | {"rows": [r.to_json() for r in rows]}) + "\n")
        print(f"json: {args.json}")
    return 0
