"""The parsers of `vitac run` and `vitac record` (nothing heavy imported: their handlers live
in launch/cli_realtime.py and are imported when they run)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from launch.cli_args import add_device_arg, add_set_arg


def add_realtime_parsers(sub: Any, lazy: Any) -> None:
    p = sub.add_parser(
        "run",
        help="run a trained policy in real time on the sim twin or a real rig",
        description="Drive the launch file's task (the sim twin, stepping in real time beside "
        "the loop, or the real devices of its [rig]: a RealSense, tactile cameras, a "
        "Dynamixel arm) with a trained policy: streams -> aligner -> policy in its own thread -> "
        "executor (run.join: switch, ensemble, or rtc for diffusion) -> safety supervisor -> "
        "arm, on absolute deadlines. A stale "
        "device holds the arm and ends the episode, naming it. Each episode is recorded to "
        "OUT/episodes.zarr with per-tick latencies; the end prints success, sensor-to-command "
        "latency, inference time, held ticks, dropped actions and frames, and the largest "
        "acceleration at chunk seams, also written to OUT/run.json. Settings: the [run] "
        "section (launch/run_plan.py), then --set, then the flags below.",
        epilog="example: vitac run launch/demo.toml --checkpoint runs/demo/X/train "
        "--episodes 3 --set run.join=ensemble",
    )
    p.add_argument("launch", type=Path, metavar="LAUNCH", help="launch file (TOML)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=None,
        help="checkpoint or training run directory (default: run.checkpoint)",
    )
    p.add_argument("--episodes", type=int, default=None, help="episodes (default: run.episodes)")
    p.add_argument(
        "--out",
        type=Path,
        default=None,
        help="new directory for run.json and episodes.zarr; default runs/run/<date-time>",
    )
    add_set_arg(p, "run.inject.latency_ms=300")
    p.add_argument("--no-progress", action="store_true", help="no live status line")
    add_device_arg(p)
    p.set_defaults(handler=lazy("launch.cli_realtime:run"))

    p = sub.add_parser(
        "record",
        help="record demonstrations in real time (the scripted expert, keys or a SpaceMouse)",
        description="Record demonstrations the way a real rig records them: every stream "
        "through capture threads, ring buffers and the aligner, at the task's control rate, "
        "into a new episode store, with the actions. The source is the task's scripted expert "
        "(collect.expert, collect.noise_std), the operator's keys (--source keyboard) or a "
        "SpaceMouse (--source spacemouse), driving the sim twin on the wall clock with "
        "[run.streams]' modelled delays; the operator also drives the real devices of the "
        "launch file's [rig]. "
        "At a terminal: Enter starts an episode, s stops, "
        "r re-records, q aborts. Every episode is kept with its success flag.",
        epilog="example: vitac record launch/demo.toml --out runs/rec.zarr --episodes 5",
    )
    p.add_argument("launch", type=Path, metavar="LAUNCH", help="launch file (TOML)")
    p.add_argument("--out", type=Path, required=True, help="new episode store (zarr directory)")
    p.add_argument(
        "--source",
        choices=["expert", "keyboard", "spacemouse"],
        default="expert",
        help="what acts: the task's scripted expert, the operator at this terminal "
        "(i/k x, j/l y, u/o z, g gripper), or a SpaceMouse (speed by deflection, left button "
        "the gripper); the operator's targets go through the safety supervisor",
    )
    p.add_argument(
        "--spacemouse",
        metavar="DEVICE",
        default=None,
        help="the SpaceMouse's hidraw node, e.g. /dev/hidraw3 (with --source spacemouse)",
    )
    p.add_argument("--episodes", type=int, default=None, help="episodes (default: run.episodes)")
    add_set_arg(p, "collect.noise_std=0.002")
    p.set_defaults(handler=lazy("launch.cli_realtime:record"))
