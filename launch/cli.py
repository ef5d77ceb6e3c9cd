"""`vitac`: the command line. Thin: parse arguments, call a job, print what it produced.

The parser imports nothing heavy: each command's handler (launch/cli_run.py, cli_dataset.py,
cli_task.py) is imported when it runs, so `--help` answers at once. Errors an operator can fix
(bad launch file, corrupt dataset, unreadable or mismatched checkpoint) print one line and exit
with status 2; an interrupted job says what it saved and how to continue (exit 128 + signal);
anything else is a bug and shows its traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Callable, Sequence
from importlib.metadata import version
from pathlib import Path

from launch.cli_args import add_device_arg, add_launch_args
from launch.cli_arm import add_arm_parser
from launch.cli_devices import add_devices_parser
from launch.cli_encoders import add_encoders_parser
from launch.cli_experiment import add_experiment_parser
from launch.cli_realtime_args import add_realtime_parsers
from launch.cli_task import add_task_parser
from launch.cli_view import add_view_parser
from launch.config import DEFAULT_LAUNCH_FILE, ConfigError, read_toml
from sensing.errors import DatasetError
from training.interrupt import Interrupted

Handler = Callable[[argparse.Namespace], int]


def operator_errors() -> tuple[type[Exception], ...]:
    """Errors an operator can fix: one line, exit 2 (imported late: policies imports torch)."""
    from drivers.base import DeviceError
    from policies.errors import CheckpointError
    from sim.touch_readout import ReadoutMismatchError
    from training.fota import FotaError

    return (
        ConfigError,
        DatasetError,
        CheckpointError,
        FotaError,
        DeviceError,
        ReadoutMismatchError,
    )


def _lazy(target: str) -> Handler:
    """`module:function`, imported when the command runs, not when the parser is built."""
    module, name = target.split(":")

    def handler(args: argparse.Namespace) -> int:
        status: int = getattr(importlib.import_module(module), name)(args)
        return status

    return handler


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
        return status
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
    except Exception as err:
        if not isinstance(err, operator_errors()):
            raise
        print(f"vitac {args.command}: error: {err}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="vitac",
        description="vitac: visuo-tactile robot learning on a simulated or real rig.",
        epilog="example: vitac demo   (then: vitac COMMAND --help)",
    )
    parser.add_argument("--version", action="version", version=f"vitac {version('vitac')}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser(
        "demo",
        help="collect expert demos -> train -> evaluate, on the simulated rig",
        epilog="example: vitac demo --out runs/demo1 --set eval.episodes=50",
        description="Run the whole pipeline on the simulated rig and report the trained "
        "policy's success rate next to zero-motion and random baselines.",
    )
    add_launch_args(p)
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="run directory (must not exist); default runs/demo/<date-time>",
    )
    add_device_arg(p)
    p.set_defaults(handler=_lazy("launch.cli_run:demo"))

    p = sub.add_parser(
        "collect",
        help="record scripted-expert demonstrations into an episode store",
        description="Run the launch file's task with its scripted expert for collect.episodes "
        "episodes (episode i uses seed collect.seed + i) and store the successful ones. Ctrl-C "
        "keeps the committed episodes; --resume continues.",
        epilog="example: vitac collect --config launch/tactile_insertion.toml --out "
        "runs/insertion.zarr --set collect.episodes=100",
    )
    add_launch_args(p)
    p.add_argument("--out", type=Path, required=True, help="new episode store (zarr directory)")
    p.add_argument(
        "--resume",
        action="store_true",
        help="continue the interrupted collection in --out (same launch file) up to "
        "collect.episodes; raise collect.episodes to add more",
    )
    p.set_defaults(handler=_lazy("launch.cli_run:collect"))

    p = sub.add_parser(
        "train",
        help="train a policy on an episode store",
        description="Train the launch file's [policy] with its [train] settings. The run "
        "directory gets checkpoints/step_<N> (and checkpoints/last), metrics.jsonl and "
        "config.toml (the launch file as resolved). Ctrl-C or SIGTERM saves a checkpoint and "
        "prints the command that resumes; a resume refuses changed settings, naming them.",
        epilog="example: vitac train --dataset runs/insertion.zarr --out runs/train1 "
        "--set train.steps=4000",
    )
    add_launch_args(p)
    p.add_argument("--dataset", type=Path, required=True, help="episode store to train on")
    p.add_argument(
        "--out", type=Path, required=True, help="run directory for checkpoints and metrics"
    )
    p.add_argument(
        "--resume", action="store_true", help="continue from the latest checkpoint in --out"
    )
    add_device_arg(p)
    p.set_defaults(handler=_lazy("launch.cli_run:train"))

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
    add_launch_args(p, progress=False)
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
        metavar="BASELINE",
        help="add a baseline to eval.baselines (repeatable): hold, random, expert (the task's "
        "scripted expert: a ceiling, not a rival) or expert:VARIANT (one of its named variants)",
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bars")
    add_device_arg(p)
    p.set_defaults(handler=_lazy("launch.cli_run:eval"))

    add_realtime_parsers(sub, _lazy)

    p = sub.add_parser(
        "dataset",
        help="inspect, verify and repair episode stores",
        description="Inspect (info), check every chunk (verify) and repair (repair) a store.",
        epilog="example: vitac dataset verify runs/demo/X/dataset.zarr",
    )
    dsub = p.add_subparsers(dest="dataset_command", required=True, metavar="ACTION")
    for name, handler, text in (
        (
            "info",
            "launch.cli_dataset:info",
            "episodes, frames, keys, shapes and units of a store (reads "
            "its metadata; `verify` checks the data)",
        ),
        (
            "verify",
            "launch.cli_dataset:verify",
            "decode every committed chunk and check its CRC32; say "
            "whether an interrupted writer left anything to repair; exit 2 on damage",
        ),
        (
            "repair",
            "launch.cli_dataset:repair",
            "remove what an interrupted writer left past the last "
            "committed episode (then plain zarr readers, e.g. diffusion_policy, open the store)",
        ),
    ):
        action = dsub.add_parser(
            name,
            help=text,
            description=text[0].upper() + text[1:] + ".",
            epilog=f"example: vitac dataset {name} runs/demo/X/dataset.zarr",
        )
        action.add_argument("path", type=Path, metavar="STORE", help="episode store (zarr dir)")
        action.set_defaults(handler=_lazy(handler))

    view = dsub.add_parser(
        "view",
        help="one episode as a tiled video: every camera, the tactile images, plots of the "
        "low-dim streams",
        description="Write one stored episode as an H.264 mp4 that browsers play: the image "
        "streams side by side, and a strip per action/proprio stream with the step marked.",
        epilog="example: vitac dataset view runs/demo/X/dataset.zarr --episode 3 --out ep3.mp4",
    )
    view.add_argument("path", type=Path, metavar="STORE", help="episode store (zarr dir)")
    view.add_argument(
        "--episode", type=int, default=0, help="episode index; negative counts from the end"
    )
    view.add_argument(
        "--out",
        type=Path,
        metavar="FILE",
        help="a new .mp4 file (default runs/view/<store>_episode_<N>.mp4)",
    )
    view.set_defaults(handler=_lazy("launch.cli_dataset:view"))

    error = dsub.add_parser(
        "action-error",
        help="how far a checkpoint's commanded TCP positions land from the store's recorded "
        "actions (mm), beside standing still",
        description="Replay a checkpoint on the store's own windows (a seeded sample, and the "
        "frames where the demonstrator lifts to correct: all, each episode's first, the later "
        "ones) and print the median xy distance, in "
        "mm, between the positions it commands and the recorded ones over each executed chunk, "
        "beside commanding the measured position (standing still); and the chunk's move against "
        "the recorded one: its error, and where the recorded move is a search step, the size "
        "ratio and cosine of the two, the least-squares gain from the policy's moves to the "
        "recorded ones, and the share of each move its first executed step makes (the policy's "
        "and the recorded).",
        epilog="example: vitac dataset action-error runs/exp/demos/all.zarr --checkpoint RUN_DIR",
    )
    error.add_argument("path", type=Path, metavar="STORE", help="episode store (zarr dir)")
    error.add_argument("--checkpoint", type=Path, required=True, help="checkpoint or run directory")
    error.add_argument("--windows", type=int, default=512, help="sampled windows (default 512)")
    error.add_argument("--seed", type=int, default=0, help="seed of the window sample")
    error.add_argument("--json", type=Path, metavar="FILE", help="also write the rows here")
    error.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="eval.inference.KEY=VALUE",
        help="how the checkpoint runs, e.g. --set eval.inference.n_action_steps=4: the executed "
        "part of each chunk (repeatable)",
    )
    error.set_defaults(handler=_lazy("launch.cli_dataset:action_error"))

    add_task_parser(sub)
    add_encoders_parser(sub, _lazy)
    add_experiment_parser(sub, _lazy)
    add_devices_parser(sub, _lazy)
    add_arm_parser(sub, _lazy)
    add_view_parser(sub, _lazy)

    p = sub.add_parser(
        "bench",
        help="run benchmarks, print a table, write JSON",
        description="Run the named benchmarks (all by default); each figure is a ratio to a "
        "peer run side by side or to a stated limit.",
        epilog="example: vitac bench sim --quick --json runs/bench-sim.json",
    )
    p.add_argument("names", nargs="*", help="benchmarks to run (default: all)")
    p.add_argument(
        "--json",
        type=Path,
        default=Path("runs/bench.json"),
        help="where to write JSON (default runs/bench.json)",
    )
    p.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="a trained policy of the demo's task for `realtime` (default: it trains one)",
    )
    p.add_argument("--list", action="store_true", help="list benchmarks and exit")
    p.set_defaults(handler=_lazy("launch.cli_dataset:bench"))
    return parser


def _launch_defaults(section: str) -> str:
    """`key=value, ...` of a section of the default launch file, for --help texts."""
    values = read_toml(DEFAULT_LAUNCH_FILE).get(section, {})
    shown = ", ".join(f"{k}={v}" for k, v in values.items())
    return f"{DEFAULT_LAUNCH_FILE.name} has {shown}" if shown else DEFAULT_LAUNCH_FILE.name


if __name__ == "__main__":
    sys.exit(main())
