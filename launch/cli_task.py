"""`vitac task`: measure a simulated task (probe, report) and calibrate its touch expert."""

from __future__ import annotations

import argparse
import shlex
import time
from pathlib import Path
from typing import Any

# sim.touch_readout's READOUT_FILE and UNITS_READOUT_FILE, named without importing sim
READOUT, UNITS_READOUT = "sim/data/touch_readout.json", "sim/data/touch_readout_units.json"


def add_task_parser(sub: Any) -> None:
    """The `task` command and its actions, on the CLI's subparsers `sub`."""
    p = sub.add_parser(
        "task",
        help="measure a simulated task",
        description="Measure a simulated task: its scripted baselines (report), which input "
        "carries the expert's corrections (probe), the touch expert's readout (calibrate).",
        epilog="example: vitac task report tactile_insertion --episodes 100 --out runs/report",
    )
    tsub = p.add_subparsers(dest="task_command", required=True, metavar="ACTION")
    probe = tsub.add_parser(
        "probe",
        help="which observation predicts the expert's corrections (ridge, held-out episodes)",
        epilog="example: vitac task probe tactile_insertion --episodes 600 --out runs/probe",
        description="Run the task's scripted expert, keep the observations before and at its "
        "first correction, and report how well a ridge regression from each input (tactile, "
        "wrist, scene, cameras, proprio) predicts that correction on held-out episodes.",
    )
    probe.add_argument("task", metavar="TASK", help="a task whose expert has decision()")
    probe.add_argument(
        "--episodes",
        type=int,
        default=600,
        help="episodes (default 600; with far fewer, the image inputs' ~780 features outnumber "
        "the training samples and their scores drop)",
    )
    probe.add_argument("--seed", type=int, default=0, help="episode i uses seed + i")
    probe.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="where probe.json goes (new or empty); default runs/probe/<task>-<date-time>",
    )
    probe.add_argument(
        "--decision",
        type=int,
        default=1,
        metavar="K",
        help="the target is each episode's K-th correction (default 1, the first; later ones "
        "ask what a few frames tell of a search under way)",
    )
    probe.add_argument(
        "--expert",
        metavar="VARIANT",
        help="probe one of the task's named expert variants (vitac task report lists them) "
        "instead of its default expert",
    )
    probe.add_argument(
        "--encoder",
        type=Path,
        metavar="DIR",
        help="also probe this tactile encoder's features of both pads (tactile_t3) and those of "
        "its architecture untrained (tactile_t3_init), CLS and mean-pooled (_mean): does the "
        "trunk keep the information?",
    )
    probe.add_argument(
        "--curve",
        type=int,
        nargs="+",
        default=[],
        metavar="N",
        help="also the tactile inputs' learning curve: R^2 at contact with the ridge fitted on "
        "N training episodes only, for each N (5 random draws each; e.g. --curve 8 16 32 64 "
        "128 256): does a pretrained trunk's reader need fewer examples than the pixels'?",
    )
    probe.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="task.params.KEY=VALUE",
        help="a task setting (repeatable), e.g. --set task.params.tactile_units=1000000: every "
        "episode's pads are a sensor unit of their own (sim.sensor_unit)",
    )
    probe.add_argument(
        "--test-set",
        dest="test_overrides",
        action="append",
        default=[],
        metavar="task.params.KEY=VALUE",
        help="a setting over --set for as many episodes more (repeatable; needs --curve): the "
        "tactile inputs' readers fitted on N of the first episodes are scored on these, e.g. "
        "--set task.params.tactile_units=1 --test-set task.params.tactile_unit_seed=1: "
        "demonstrations on one gripper's pads, deployment after a gel swap",
    )
    probe.add_argument("--no-progress", action="store_true", help="no progress bar")
    probe.set_defaults(handler=_task_probe)
    trace = tsub.add_parser(
        "trace",
        help="how a checkpoint searches in closed loop (lifts, moves, pressed steps) beside the "
        "task's expert",
        epilog="example: vitac task trace runs/insert --set task.params.part=usb12 --episodes 20",
        description="Run a checkpoint and its task's scripted expert for N seeded episodes each "
        "(episode i uses seed S+i) and count, per episode, the steps that lift the commanded "
        "TCP, that move it a search step in xy (0.2-5 mm; and those moves' mean length) and "
        "that press (the measured TCP 0.5 mm above its command): the expert's search lifts and "
        "moves together.",
    )
    trace.add_argument("checkpoint", type=Path, metavar="CHECKPOINT", help="checkpoint or run")
    trace.add_argument("--episodes", type=int, default=20, help="episodes per actor (default 20)")
    trace.add_argument(
        "--seed", type=int, default=100_000, help="episode i uses seed + i (default 100000)"
    )
    trace.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="change the checkpoint's task, e.g. --set task.params.part=usb12, or how it runs, "
        "e.g. --set eval.inference.n_action_steps=4 (repeatable)",
    )
    trace.add_argument("--json", type=Path, default=None, metavar="FILE", help="write FILE too")
    trace.add_argument("--no-progress", action="store_true", help="no progress bar")
    trace.set_defaults(handler=_task_trace)
    report = tsub.add_parser(
        "report",
        help="success rates of the task's scripted baselines, per part, with 95%% CIs",
        epilog="example: vitac task report tactile_insertion --set task.params.part=usb12",
        description="Run the task's scripted baselines (expert: the task's default expert; its "
        "named variants, e.g. oracle and open_loop; hold: zero motion) for N seeded episodes "
        "each, per part variant where the task has them, and print success rates with 95% "
        "Wilson intervals. Episode i of every baseline uses seed S+i.",
    )
    report.add_argument("task", metavar="TASK", help="a task with a scripted expert")
    report.add_argument(
        "--episodes", type=int, default=100, help="episodes per baseline and part (default 100)"
    )
    report.add_argument(
        "--seed", type=int, default=100_000, help="episode i uses seed + i (default 100000)"
    )
    report.add_argument(
        "--workers",
        type=int,
        default=2,
        help="processes running episodes in parallel (default 2; 1: this process)",
    )
    report.add_argument(
        "--out",
        type=Path,
        default=None,
        metavar="DIR",
        help="write DIR/report.json (must be new or empty); default: print only",
    )
    report.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a task parameter, e.g. --set task.params.clearance_mm=0.6 (repeatable); "
        "setting task.params.part runs that part only",
    )
    report.add_argument("--no-progress", action="store_true", help="no progress bars")
    report.set_defaults(handler=_task_report)
    calibrate = tsub.add_parser(
        "calibrate",
        help="fit the touch expert's readout on labelled simulated presses",
        epilog="example: vitac task calibrate tactile_insertion --out runs/readout.json",
        description="Run the contact-only search on every part, label each press on the rim "
        "with the simulator's true offset, fit the touch readout (which side the socket is on, "
        "per axis, from the two tactile images), score it on held-out episodes and write it. "
        f"The expert reads {READOUT}, or {UNITS_READOUT} for pads of sensor units "
        "(task.params.tactile_units > 0) at spread 1, touch_readout_units_<spread>.json beside "
        "it at another spread.",
    )
    calibrate.add_argument("task", metavar="TASK", help="tactile_insertion")
    calibrate.add_argument("--episodes", type=int, default=100, help="per part (default 100)")
    calibrate.add_argument("--seed", type=int, default=50_000, help="episode i uses seed + i")
    calibrate.add_argument("--out", type=Path, required=True, metavar="FILE", help="a new file")
    calibrate.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="task.params.KEY=VALUE",
        help="a task setting (repeatable), e.g. --set task.params.tactile_units=1000000: calibrate "
        "across sensor units (the part is set by the calibration)",
    )
    calibrate.add_argument("--no-progress", action="store_true", help="no progress bar")
    calibrate.set_defaults(handler=_task_calibrate)


def _task_trace(args: argparse.Namespace) -> int:
    from launch.config import ConfigError, check_output_file
    from launch.task_jobs import run_trace
    from training.run_dir import resolve_checkpoint
    from training.search_trace import format_summaries

    bad = [o for o in args.overrides if not o.startswith(("task.", "eval.inference."))]
    if bad:
        raise ConfigError(
            f"--set takes task.* keys (the checkpoint's task) and eval.inference.* keys (how "
            f"it runs) here, got {bad}"
        )
    task_sets = [o for o in args.overrides if o.startswith("task.")]
    if args.json is not None:
        check_output_file(args.json, "--json")
    checkpoint = resolve_checkpoint(args.checkpoint)
    sets = [w for o in args.overrides for w in ("--set", o)]
    words = ["task", "trace", str(args.checkpoint), *sets, "--episodes", str(args.episodes)]
    command = shlex.join(["vitac", *words, "--seed", str(args.seed)])
    rows = run_trace(
        checkpoint,
        task_sets,
        args.episodes,
        args.seed,
        args.json,
        command,
        progress=not args.no_progress,
        inference_sets=[o for o in args.overrides if o not in task_sets],
    )
    print(format_summaries(rows))
    if args.json is not None:
        print(f"json: {args.json}")
    return 0


def _task_probe(args: argparse.Namespace) -> int:
    from launch.task_jobs import run_probe
    from training.probe import format_table
    from training.probe_curve import format_curve

    out = args.out or Path("runs/probe") / f"{args.task}-{time.strftime('%Y%m%d-%H%M%S')}"
    command = f"vitac task probe {args.task} --episodes {args.episodes} --seed {args.seed} "
    if args.decision != 1:
        command += f"--decision {args.decision} "
    if args.expert:
        command += f"--expert {args.expert} "
    if args.encoder:
        command += f"--encoder {args.encoder} "
    if args.curve:
        command += f"--curve {' '.join(map(str, args.curve))} "
    command += "".join(f"--set {shlex.quote(item)} " for item in args.overrides)
    command += "".join(f"--test-set {shlex.quote(item)} " for item in args.test_overrides)
    report = run_probe(
        args.task,
        args.episodes,
        args.seed,
        out,
        command + f"--out {out}",
        progress=not args.no_progress,
        variant=args.expert,
        encoder=args.encoder,
        decision=args.decision,
        curve=args.curve,
        overrides=args.overrides,
        test_overrides=args.test_overrides,
    )
    print(format_table(report.results))
    if report.curve:
        print(format_curve(report.curve))
    if report.transfer:
        print("scored under the --test-set settings:\n" + format_curve(report.transfer))
        print(format_curve(report.transfer, cosine=True))
    print(f"samples:  {report.samples} per phase ({report.skipped} episode(s) without a decision)")
    for group, layout in report.layouts.items():
        print(f"{group + ':':<9} {layout}")
    print(f"json:     {report.json}")
    return 0


def _task_calibrate(args: argparse.Namespace) -> int:
    from launch.task_jobs import run_calibrate

    command = f"vitac task calibrate {args.task} --episodes {args.episodes} --seed {args.seed}"
    command += "".join(f" --set {shlex.quote(item)}" for item in args.overrides)
    report = run_calibrate(
        args.task,
        args.episodes,
        args.seed,
        args.out,
        f"{command} --out {args.out}",
        progress=not args.no_progress,
        overrides=args.overrides,
    )
    x, y = report.heldout_accuracy
    print(f"presses:  {report.presses}; held-out side accuracy x {x:.3f}, y {y:.3f}")
    print(f"json:     {report.json} ({report.seconds:.0f} s)")
    return 0


def _task_report(args: argparse.Namespace) -> int:
    from launch.task_jobs import run_report
    from training.task_report import format_table as format_report_table

    words = ["vitac", "task", "report", args.task, "--episodes", str(args.episodes)]
    words += ["--seed", str(args.seed), "--workers", str(args.workers)]
    for item in args.overrides:
        words += ["--set", item]
    if args.out is not None:
        words += ["--out", str(args.out)]
    report, path = run_report(
        args.task,
        args.overrides,
        args.episodes,
        args.seed,
        args.workers,
        args.out,
        shlex.join(words),
        progress=not args.no_progress,
    )
    print(format_report_table(report))
    print(f"time:     {report.seconds:.1f} s ({args.workers} worker(s))")
    if path is not None:
        print(f"json:     {path}")
    return 0
