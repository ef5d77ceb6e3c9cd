"""Arguments and command lines several `vitac` commands share (imported by the parser:
nothing heavy here)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from launch.config import DEFAULT_LAUNCH_FILE, DEVICES


def add_launch_args(p: argparse.ArgumentParser, progress: bool = True) -> None:
    """--config FILE, --set KEY=VALUE (repeatable) and, unless `progress` is off, --no-progress."""
    p.add_argument(
        "--config",
        type=Path,
        default=None,
        help=f"launch file (TOML); default: {DEFAULT_LAUNCH_FILE.name} shipped with vitac",
    )
    add_set_arg(p)
    if progress:
        p.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_set_arg(p: argparse.ArgumentParser, example: str = "train.steps=500") -> None:
    """--set KEY=VALUE (repeatable): launch-file overrides."""
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help=f"override a launch-file key, e.g. --set {example} (repeatable)",
    )


def add_device_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        help=f"where the policy computes: {DEVICES} (default auto: CUDA when present)",
    )


PROJECT_ROOT = Path(__file__).resolve().parent.parent  # the checkout vitac runs from


def portable(path: Path) -> str:
    """A launch file inside the checkout as its path from the checkout's root (what anyone
    can re-run at that commit: `launch/x.toml`, not `/tmp/copy/launch/x.toml`); else as is."""
    try:
        return str(path.resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def command_line(
    command: str, args: argparse.Namespace, record: bool = False, **paths: Path
) -> list[str]:
    """The command line of a job: `vitac COMMAND`, its launch file and overrides, and the
    given path options. `record`: as a results file keeps it, the launch file `portable`."""
    argv = ["vitac", *command.split()]
    if args.config is not None:
        argv += ["--config", portable(args.config) if record else str(args.config)]
    for item in args.overrides:
        argv += ["--set", item]
    for name, value in paths.items():
        argv += [f"--{name}", str(value)]
    return argv


def continue_command(command: str, args: argparse.Namespace, **paths: Path) -> str:
    """The command line that continues an interrupted job: `command_line`, then --resume."""
    return shlex.join([*command_line(command, args, False, **paths), "--resume"])
