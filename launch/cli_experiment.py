"""`vitac experiment tactile-insertion`: the parser and the command (launch.experiment runs
it)."""

from __future__ import annotations

import argparse
import shlex
import sys
from pathlib import Path
from typing import Any

from launch.cli_args import add_device_arg, add_launch_args, command_line, continue_command
from launch.config import ConfigError, check_output_path, resolve_device

EXPERIMENT_FILE = Path(__file__).parent / "tactile_insertion_experiment.toml"


def add_experiment_parser(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "experiment",
        help="experiments that answer a question end to end (one command each)",
        description="Experiments: every stage from data to the table, resumable.",
        epilog="example: vitac experiment tactile-insertion --out runs/experiment",
    )
    esub = p.add_subparsers(dest="experiment", required=True, metavar="EXPERIMENT")
    ti = esub.add_parser(
        "tactile-insertion",
        help="does a pretrained tactile trunk make 0.4 mm insertion succeed? (pretrained vs "
        "scratch vs no touch, per policy, part and seed)",
        description="Collect the touch expert's demonstrations of every part, pretrain the "
        "tactile trunk on simulated presses of both sensors (MAE + supervised), train each "
        "policy of [experiment.policies] in three arms (pretrained trunk, the same from "
        "scratch, no touch) for experiment.seeds seeds, and evaluate every run on every part. "
        "Writes OUT/tactile_insertion.json (one row per policy, part, arm and seed), .md (the "
        "table pooled over seeds, Wilson 95% intervals) and .png. --resume skips what an "
        "earlier run finished.",
        epilog="example: vitac experiment tactile-insertion --out runs/experiment",
    )
    ti.add_argument("--out", type=Path, required=True, metavar="DIR", help="run directory")
    add_launch_args(ti)
    ti.set_defaults(config=EXPERIMENT_FILE)
    ti.add_argument(
        "--quick",
        action="store_true",
        help="toy sizes (launch.experiment_plan.QUICK; a minute): checks the pipeline, "
        "not the result",
    )
    ti.add_argument(
        "--only",
        action="append",
        default=[],
        metavar="POLICY",
        help="run and report only this policy of experiment.policies (repeatable)",
    )
    ti.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_device_arg(ti)
    ti.set_defaults(handler=lazy("launch.cli_experiment:tactile_insertion"))
    g = esub.add_parser(
        "gather",
        help="one table from the records of several runs (other sessions, seeds or arms)",
        description="Pool the rows of several experiment records (OUT/tactile_insertion.json "
        "of runs made in different sessions, or result files with the same rows) into one: "
        "DIR/tactile_insertion.json (the rows, each record's command and commit as its "
        "sources), .md (the table pooled over seeds, the goal's verdict) and .png. A row in "
        "two records, rows of different episode counts, or references that differ are refused.",
        epilog="example: vitac experiment gather runs/exp1/tactile_insertion.json "
        "runs/exp2/tactile_insertion.json --out runs/table",
    )
    g.add_argument("records", nargs="+", type=Path, metavar="RECORD", help="experiment records")
    g.add_argument("--out", type=Path, required=True, metavar="DIR", help="where the table goes")
    g.set_defaults(handler=lazy("launch.cli_experiment:gather"))


def tactile_insertion(args: argparse.Namespace) -> int:
    from launch.config import apply_overrides, read_toml
    from launch.experiment import run_experiment
    from launch.experiment_plan import quick_overrides
    from launch.experiment_report import STEM
    from launch.task_jobs import git_state
    from training.interrupt import Interrupted

    check_output_path(args.out)
    if args.out.exists() and any(args.out.iterdir()) and not args.resume:
        raise ConfigError(f"--out {args.out} holds a run; pass --resume to continue it")
    data = read_toml(args.config)
    quick = quick_overrides(data) if args.quick else []
    data = apply_overrides(data, quick + args.overrides)  # the user's overrides win
    command = command_line("experiment tactile-insertion", args, record=True, out=args.out)
    command += ["--quick"] * args.quick + [f"--only={name}" for name in args.only]
    commit, dirty = git_state()
    try:
        run_experiment(
            data,
            str(args.config),
            args.out,
            log=lambda line: print(line, file=sys.stderr),
            progress=not args.no_progress,
            device=resolve_device(args.device),
            record={"command": shlex.join(command), "commit": commit, "dirty": dirty},
            only=args.only,
        )
    except Interrupted as stop:
        resume = continue_command("experiment tactile-insertion", args, out=args.out)
        extra = ["--quick"] * args.quick + [f"--only={name}" for name in args.only]
        stop.hint = "resume: " + shlex.join([*shlex.split(resume), *extra])
        raise
    print((args.out / f"{STEM}.md").read_text(), end="")
    print(f"rows: {args.out / f'{STEM}.json'}\nplot: {args.out / f'{STEM}.png'}")
    return 0


def gather(args: argparse.Namespace) -> int:
    from launch.experiment_report import STEM, GatherError, write_report
    from launch.experiment_report import gather as gather_records
    from launch.task_jobs import git_state

    check_output_path(args.out)
    if (args.out / f"{STEM}.json").exists():
        raise ConfigError(f"--out {args.out} already holds {STEM}.json; choose another")
    try:
        record = gather_records(args.records)
    except GatherError as err:
        raise ConfigError(str(err)) from None
    commit, dirty = git_state()
    command = ["vitac", "experiment", "gather", *map(str, args.records), "--out", str(args.out)]
    record = {"command": shlex.join(command), "commit": commit, "dirty": dirty, **record}
    args.out.mkdir(parents=True, exist_ok=True)
    write_report(record, args.out)
    print((args.out / f"{STEM}.md").read_text(), end="")
    print(f"rows: {args.out / f'{STEM}.json'}\nplot: {args.out / f'{STEM}.png'}")
    return 0
