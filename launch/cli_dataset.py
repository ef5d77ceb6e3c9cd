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
    from launch.bench import BenchOptions, describe, format_table, run_benchmarks
    from launch.benchmarks import BENCHMARKS

    if args.list:
        width = max(map(len, BENCHMARKS))
        for name, benchmark in BENCHMARKS.items():
            print(f"{name:<{width}}  {describe(benchmark)}")
        return 0
    check_output_file(args.json, "--json")
    with tempfile.TemporaryDirectory(prefix="vitac-bench-") as tmp:
        results = run_benchmarks(
            args.names, BENCHMARKS, BenchOptions(Path(tmp), quick=args.quick), json_path=args.json
        )
    print(format_table(results))
    print(f"json: {args.json}")
    return 0
