"""`vitac`: the command line. Thin: parse arguments, call a job, print what it produced.

Errors an operator can fix (bad launch file, corrupt dataset, unreadable checkpoint) print one
clear message and exit with status 2; anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from launch.cli_task import add_task_parser
from launch.config import (
    ConfigError,
    apply_overrides,
    check_output_file,
    check_output_path,
    read_toml,
    validate,
)
from launch.jobs import (
    DEFAULT_LAUNCH_FILE,
    VIDEO_DIR,
    checkpoint_task,
    load_launch,
    run_collect,
    run_demo,
    run_eval,
    run_eval_to_dir,
    run_train,
)
from policies import CheckpointError
from sensing.errors import DatasetError
from sensing.store import EpisodeStore, pending_repairs, repair_store
from training.evaluate import EvalConfig
from training.interrupt import Interrupted

OPERATOR_ERRORS = (ConfigError, DatasetError, CheckpointError)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
        return status
    except OPERATOR_ERRORS as err:
        print(f"vitac {args.command}: error: {err}", file=sys.stderr)
        return 2
    except Interrupted as stop:  # saved what it had; say so and how to go on
        print(f"vitac {args.command}: interrupted ({stop.signal_name}): {stop}", file=sys.stderr)
        if stop.hint:
            print(f"vitac {args.command}: {stop.hint}", file=sys.stderr)
        return stop.exit_code
    except KeyboardInterrupt:
        print(f"vitac {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`vitac dataset info STORE | head -1`)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())  # no second error when Python flushes at exit
        return 141  # 128 + SIGPIPE, what a shell reports for a writer killed by it


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitac", description="vitac: visuo-tactile robot learning on a simulated or real rig."
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def launch_args(p: argparse.ArgumentParser, progress: bool = True) -> None:
        p.add_argument(
            "--config",
            type=Path,
            default=None,
            help=f"launch file (TOML); default: {DEFAULT_LAUNCH_FILE.name} shipped with vitac",
        )
        p.add_argument(
            "--set",
            dest="overrides",
            action="append",
            default=[],
            metavar="KEY=VALUE",
            help="override a launch-file key, e.g. --set train.steps=500 (repeatable)",
        )
        if progress:
            p.add_argument("--no-progress", action="store_true", help="no progress bars")

    p = sub.add_parser(
        "demo",
        help="collect expert demos -> train -> evaluate, on the simulated rig",
        description="Run the whole pipeline on the simulated rig and report the trained "
        "policy's success rate next to zero-motion and random baselines.",
    )
    launch_args(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory (must not exist); default runs/demo/<date-time>",
    )
    p.set_defaults(handler=_demo)

    p = sub.add_parser(
        "collect", help="record scripted-expert demonstrations into an episode store"
    )
    launch_args(p)
    p.add_argument("--out", type=Path, required=True, help="new episode store (zarr directory)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted collection in --out (same launch file) up to "
        "collect.episodes; raise collect.episodes to add more",
    )
    p.set_defaults(handler=_collect)

    p = sub.add_parser("train", help="train a policy on an episode store")
    launch_args(p)
    p.add_argument("--dataset", type=Path, required=True, help="episode store to train on")
    p.add_argument(
        "--out", type=Path, required=True, help="run directory for checkpoints and metrics"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in --out"
    )
    p.set_defaults(handler=_train)

    defaults = _launch_defaults("eval")
    p = sub.add_parser(
        "eval",
        help="evaluate a checkpoint in simulation against baselines",
        description="Run the policy and the baselines for N seeded episodes each on the task "
        "recorded in the checkpoint; print success rates with 95%% Wilson intervals. Settings "
        "come from the launch file's [eval] section (its [task] section is not used: "
        "`--set task.params.KEY=VALUE` changes the checkpoint's task, e.g. its clearance), "
        "then --set, then the flags below. The policy's inputs are checked against the "
        "task's observations before any episode runs.",
        epilog="example: vitac eval runs/demo/X/train/checkpoints/step_0002000 --episodes 50 "
        "--workers 2 --out runs/eval1 --set task.params.clearance_mm=0.3",
    )
    p.add_argument(
        "checkpoint", nargs="?", type=Path, metavar="CHECKPOINT", help="checkpoint directory"
    )
    p.add_argument(
        "--checkpoint", dest="checkpoint_flag", type=Path, metavar="CKPT", help="same as CHECKPOINT"
    )
    launch_args(p, progress=False)
    p.add_argument(
        "--episodes", type=int, help=f"episodes per actor (default: eval.episodes, {defaults})"
    )
    p.add_argument("--seed", type=int, help="episode i uses seed + i (default: eval.seed)")
    p.add_argument(
        "--workers",
        type=int,
        help="processes running episodes in parallel (1: this process); each holds its own "
        "env, GL context and copy of the policy (default: eval.workers)",
    )
    p.add_argument(
        "--videos",
        type=int,
        metavar="N",
        help="record the first N episodes of each actor to DIR/videos/<actor>/seed_<seed>.mp4 "
        "(needs --out; default with --out: eval.videos)",
    )
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write results.json (per-episode seeds, successes, lengths) and summary.png here; "
        "must be new or empty",
    )
    p.add_argument(
        "--baseline",
        dest="baselines",
        action="append",
        default=[],
        choices=["hold", "random", "expert"],
        help="add a baseline to eval.baselines (repeatable); expert = the task's scripted "
        "expert (a ceiling, not a rival)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    p.set_defaults(handler=_eval)

    p = sub.add_parser("dataset", help="inspect, verify and repair episode stores")
    dsub = p.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    for name, handler, text in (
        (
            "info",
            _dataset_info,
            "episodes, frames, keys, shapes and units of a store (reads "
            "its metadata; `verify` checks the data)",
        ),
        (
            "verify",
            _dataset_verify,
            "decode every committed chunk and check its CRC32; say "
            "whether an interrupted writer left anything to repair; exit 2 on damage",
        ),
        (
            "repair",
            _dataset_repair,
            "remove what an interrupted writer left past the last "
            "committed episode (then plain zarr readers, e.g. diffusion_policy, open the store)",
        ),
    ):
        action = dsub.add_parser(name, help=text, description=text[0].upper() + text[1:] + ".")
        action.add_argument("path", type=Path, metavar="STORE", help="episode store (zarr dir)")
        action.set_defaults(handler=handler)

    add_task_parser(sub)

    p = sub.add_parser("bench", help="run benchmarks, print a table, write JSON")
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument("--json", type=Path, default=Path("runs/bench.json"), help="where to write JSON")
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument("--list", action="store_true", help="list benchmarks and exit")
    p.set_defaults(handler=_bench)
    return parser


def _demo(args: argparse.Namespace) -> int:
    launch = load_launch(args.config, args.overrides)
    out = args.out or Path("runs/demo") / time.strftime("%Y%m%d-%H%M%S")
    check_output_path(out)
    try:
        report = run_demo(
            launch, out, progress=not args.no_progress, log=lambda line: print(line, flush=True)
        )
    except Interrupted as stop:
        dataset = out / "dataset.zarr"
        stop.hint = "continue: " + (
            _command("train", args, dataset=dataset, out=out / "train")
            if (out / "train").exists()
            else _command("collect", args, out=dataset)
        )
        raise
    print("\n".join(report.lines()))
    return 0


def _collect(args: argparse.Namespace) -> int:
    launch = load_launch(args.config, args.overrides)
    if not args.resume:
        check_output_path(args.out)
    try:
        result = run_collect(launch, args.out, progress=not args.no_progress, resume=args.resume)
    except Interrupted as stop:
        stop.hint = "continue: " + _command("collect", args, out=args.out)
        raise
    print(
        f"stored {result.stored}/{result.attempted} episodes "
        f"(expert success {result.expert_successes}/{result.attempted}) in {result.path}"
    )
    return 0


def _train(args: argparse.Namespace) -> int:
    launch = load_launch(args.config, args.overrides)
    check_output_path(args.out)
    try:
        result = run_train(
            launch, args.dataset, args.out, resume=args.resume, progress=not args.no_progress
        )
    except Interrupted as stop:
        stop.hint = "resume: " + _command("train", args, dataset=args.dataset, out=args.out)
        raise
    print(
        f"trained {result.steps} steps at {result.iterations_per_s:.1f} it/s; "
        f"checkpoint: {result.checkpoint}"
    )
    return 0


def _command(command: str, args: argparse.Namespace, **paths: Path) -> str:
    """The command line that continues an interrupted job: same launch file and overrides."""
    argv = ["vitac", command]
    if args.config is not None:
        argv += ["--config", str(args.config)]
    for item in args.overrides:
        argv += ["--set", item]
    for name, value in paths.items():
        argv += [f"--{name}", str(value)]
    return shlex.join([*argv, "--resume"])


def _eval(args: argparse.Namespace) -> int:
    if (args.checkpoint is None) == (args.checkpoint_flag is None):
        raise ConfigError("give the checkpoint directory once: CHECKPOINT or --checkpoint")
    checkpoint: Path = args.checkpoint or args.checkpoint_flag
    if args.out is not None:
        check_output_path(args.out)
    task_sets = [o for o in args.overrides if o.startswith("task.")]  # for the checkpoint's task
    launch = load_launch(args.config, [o for o in args.overrides if o not in task_sets])
    flags = {k: getattr(args, k) for k in ("episodes", "seed", "workers", "videos")}
    if flags["videos"] and args.out is None:
        raise ConfigError("--videos needs --out DIR (the videos go to DIR/videos/)")
    options = launch.config.eval.model_dump() | {k: v for k, v in flags.items() if v is not None}
    options["baselines"] += [b for b in args.baselines if b not in options["baselines"]]
    config = validate(EvalConfig, options, "command-line options")
    task = checkpoint_task(checkpoint, apply_overrides({}, task_sets).get("task"))
    progress = not args.no_progress
    if args.out is None:
        for result in run_eval(checkpoint, config, progress=progress, task=task):
            print(result.summary())
        return 0
    report = run_eval_to_dir(checkpoint, config, args.out, progress=progress, task=task)
    for result in report.results:
        print(result.summary())
    print(f"results: {report.json}")
    print(f"plot:    {report.plot}")
    if report.videos:
        print(f"videos:  {args.out / VIDEO_DIR} ({len(report.videos)} mp4)")
    print(f"time:    {report.seconds:.1f} s ({config.workers} worker(s))")
    return 0


def _launch_defaults(section: str) -> str:
    """`key=value, ...` of a section of the default launch file, for --help texts."""
    values = read_toml(DEFAULT_LAUNCH_FILE).get(section, {})
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    return f"{DEFAULT_LAUNCH_FILE.name} has {shown}" if shown else DEFAULT_LAUNCH_FILE.name


def _dataset_info(args: argparse.Namespace) -> int:
    print(EpisodeStore.open(args.path).summary())
    return 0


def _dataset_verify(args: argparse.Namespace) -> int:
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


def _dataset_repair(args: argparse.Namespace) -> int:
    repaired = repair_store(args.path)
    what = f"removed {'; '.join(repaired)}" if repaired else "nothing to repair"
    store = EpisodeStore.open(args.path)
    print(f"{args.path}: {what}; {store.n_episodes} committed episodes kept")
    return 0


def _bench(args: argparse.Namespace) -> int:
    from launch.bench import BenchOptions, format_table, run_benchmarks
    from launch.benchmarks import BENCHMARKS

    if args.list:
        print("\n".join(BENCHMARKS))
        return 0
    check_output_file(args.json, "--json")
    with tempfile.TemporaryDirectory(prefix="vitac-bench-") as tmp:
        results = run_benchmarks(
            args.names, BENCHMARKS, BenchOptions(Path(tmp), quick=args.quick), json_path=args.json
        )
    print(format_table(results))
    print(f"json: {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
