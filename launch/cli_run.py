"""The handlers of `vitac demo | collect | train | eval` (imported only when one runs, so
that `vitac --help` never imports torch)."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from launch.cli_args import continue_command
from launch.config import (
    ConfigError,
    apply_overrides,
    check_output_path,
    resolve_device,
    validate,
)
from launch.jobs import (
    VIDEO_DIR,
    checkpoint_task,
    run_collect,
    run_demo,
    run_eval,
    run_eval_to_dir,
    run_train,
)
from launch.launch_file import check_expert_variants, load_launch
from training.evaluate import EvalConfig
from training.interrupt import Interrupted
from training.run_dir import resolve_checkpoint


def demo(args: argparse.Namespace) -> int:
    launch = load_launch(args.config, args.overrides)
    out = args.out or Path("runs/demo") / time.strftime("%Y%m%d-%H%M%S")
    check_output_path(out)
    device = resolve_device(args.device)
    try:
        report = run_demo(
            launch,
            out,
            progress=not args.no_progress,
            log=lambda line: print(line, flush=True),
            device=device,
        )
    except Interrupted as stop:
        dataset = out / "dataset.zarr"
        stop.hint = "continue: " + (
            continue_command("train", args, dataset=dataset, out=out / "train")
            if (out / "train").exists()
            else continue_command("collect", args, out=dataset)
        )
        raise
    print("\n".join(report.lines()))
    return 0


def collect(args: argparse.Namespace) -> int:
    launch = load_launch(args.config, args.overrides)
    if not args.resume:
        check_output_path(args.out)
    try:
        result = run_collect(launch, args.out, progress=not args.no_progress, resume=args.resume)
    except Interrupted as stop:
        stop.hint = "continue: " + continue_command("collect", args, out=args.out)
        raise
    print(
        f"stored {result.stored}/{result.attempted} episodes "
        f"(expert success {result.expert_successes}/{result.attempted}) in {result.path}"
    )
    return 0


def train(args: argparse.Namespace) -> int:
    launch = load_launch(args.config, args.overrides)
    check_output_path(args.out)
    device = resolve_device(args.device)
    try:
        result = run_train(
            launch,
            args.dataset,
            args.out,
            resume=args.resume,
            progress=not args.no_progress,
            device=device,
        )
    except Interrupted as stop:
        stop.hint = "resume: " + continue_command("train", args, dataset=args.dataset, out=args.out)
        raise
    val = f", val loss {result.val_loss:.4f}" if result.val_loss is not None else ""
    print(
        f"trained {result.steps} steps at {result.iterations_per_s:.1f} it/s (final train loss "
        f"{result.train_loss:.4f}{val}); checkpoint: {result.checkpoint}"
        + (f"; best by rollouts: {result.best.name}" if result.best is not None else "")
    )
    return 0


def eval(args: argparse.Namespace) -> int:
    if (args.checkpoint is None) == (args.checkpoint_flag is None):
        raise ConfigError("give the checkpoint directory once: CHECKPOINT or --checkpoint")
    checkpoint = resolve_checkpoint(args.checkpoint or args.checkpoint_flag)
    device = resolve_device(args.device)
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
    check_expert_variants(task[0], "command-line options", config.baselines)
    progress = not args.no_progress
    if args.out is None:
        for result in run_eval(checkpoint, config, progress=progress, task=task, device=device):
            print(result.summary())
        return 0
    report = run_eval_to_dir(
        checkpoint, config, args.out, progress=progress, task=task, device=device
    )
    for result in report.results:
        print(result.summary())
    print(f"results: {report.json}")
    print(f"plot:    {report.plot}")
    if report.videos:
        print(f"videos:  {args.out / VIDEO_DIR} ({len(report.videos)} mp4)")
    print(f"time:    {report.seconds:.1f} s ({config.workers} worker(s))")
    return 0
