"""`vitac encoders`: tactile transformer checkpoints (import from T3; imported only when run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from launch.cli_args import add_device_arg, add_launch_args, command_line, continue_command
from launch.config import ConfigError, check_new_path, check_output_path, resolve_device


def add_encoders_parser(sub: Any, lazy: Any) -> None:
    """The `encoders` and `pretrain` commands, on the CLI's subparsers `sub`."""
    p = sub.add_parser(
        "pretrain",
        help="pretrain the tactile transformer on FoTa data (MAE, then supervised multi-task)",
        description="Stage I masked autoencoding on every data set, stage II supervised "
        "multi-task; each step draws one (data set, task) pair (weights: sqrt of its size). "
        "Settings: the launch file's [pretrain] section and --set pretrain.KEY=VALUE. Writes "
        "checkpoints (the encoder format), metrics.jsonl and validation per pair (accuracy, "
        "RMSE in mm or N, MAE loss). Ctrl-C saves and prints the resume command.",
        epilog="example: vitac pretrain --data runs/fota --out runs/pretrain1 "
        "--set pretrain.supervised_steps=2000",
    )
    _add_run_args(p, data_required=True)
    p.set_defaults(handler=lazy("launch.cli_encoders:pretrain_command"))

    p = sub.add_parser(
        "encoders",
        help="tactile transformer encoders: import T3's published weights",
        description="Manage shared-trunk tactile transformer encoders (the T3 family).",
        epilog="example: vitac encoders import-t3 t3_medium --out runs/encoders/t3_medium",
    )
    esub = p.add_subparsers(dest="encoders_command", required=True, metavar="ACTION")
    t3 = esub.add_parser(
        "import-t3",
        help="convert a T3 checkpoint folder (trunk.pth, encoders/<sensor>.pth, "
        "decoders/<task>.pth) to vitac's safetensors format",
        description="Read T3's pickled state dicts with torch.load(weights_only=True) only, infer "
        "width, depths, patch and image size from the tensors, check every key and shape, and "
        "write vitac's encoder directory (config.json + safetensors per component).",
        epilog="example: vitac encoders import-t3 t3_medium --out runs/encoders/t3 --sensor mini",
    )
    t3.add_argument("src", type=Path, metavar="SRC_DIR", help="T3 checkpoint folder")
    t3.add_argument("--out", type=Path, required=True, metavar="DST_DIR", help="a new directory")
    t3.add_argument(
        "--num-heads",
        type=int,
        default=None,
        help="attention heads (the folder does not say; default T3's: 192->3, 384->6, "
        "768->12, 1024->16, else width/64)",
    )
    t3.add_argument(
        "--sensor",
        dest="sensors",
        action="append",
        default=None,
        metavar="NAME",
        help="import this sensor's tokenizer (repeatable; default: every encoders/*.pth)",
    )
    t3.add_argument(
        "--head",
        dest="heads",
        action="append",
        default=[],
        metavar="NAME=KIND",
        help="import decoders/NAME.pth as a task head of KIND: classification, regression, "
        "pose or mae (T3's configs say which; repeatable)",
    )
    t3.set_defaults(handler=lazy("launch.cli_encoders:import_t3_command"))
    data = esub.add_parser(
        "make-data",
        help="write tactile pretraining data from the simulator in the FoTa format",
        description="Press indenters (sphere, edge, pins, square) into simulated GelSight Mini "
        "and DIGIT pads at random places, forces and turns, and write each sensor's images with "
        "their labels (contact_class, x_mm, y_mm, normal_force_n, depth_mm, angle_deg) as a FoTa "
        "data set ROOT/sim_<sensor>/{train,val} (every 10th sample to val).",
        epilog="example: vitac encoders make-data --out runs/fota --samples 5000 --seed 0",
    )
    data.add_argument("--out", type=Path, required=True, metavar="ROOT", help="a new directory")
    data.add_argument("--samples", type=int, default=5000, help="presses per sensor (default 5000)")
    data.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    data.add_argument(
        "--sensor",
        dest="sensors",
        action="append",
        choices=["mini", "digit"],
        default=None,
        help="only this sensor (repeatable; default both)",
    )
    data.add_argument("--shard-size", type=int, default=1000, help="samples per tar shard")
    data.add_argument(
        "--shear",
        action="store_true",
        help="every press also pushes sideways and twists (for the shear and twist tasks)",
    )
    data.add_argument(
        "--grasp",
        action="store_true",
        help="every sample a held press disturbed (grip change, push, twist), stored with the "
        "held image as its base; adds a flat face wider than the pad to the indenters",
    )
    data.add_argument(
        "--unit-spread",
        type=float,
        default=0.0,
        metavar="S",
        help="every press on a sensor unit of its own (gel stiffness, lights, markers, camera "
        "mount; sim.sensor_unit) drawn at spread S in (0, 2], stored with its resting frame as "
        "base (default 0: the nominal sensor)",
    )
    data.add_argument("--no-progress", action="store_true", help="no progress bar")
    data.set_defaults(handler=lazy("launch.cli_encoders:make_data_command"))
    tr = esub.add_parser(
        "transfer",
        help="the transfer table: pretrain on one sensor's tasks, fine-tune another's from "
        "10/100/1000 samples against the same model from scratch",
        description="Pretrain on the source data set's tasks plus both data sets' MAE (the "
        "target's labels held out), then fine-tune each held-out (target, task) pair from each "
        "sample count and seed in three arms: pretrained (all weights train), frozen (head only) "
        "and scratch. Settings: the launch file's [transfer] and [pretrain] sections. Makes its "
        "own data in OUT/data unless --data is given; --resume skips the finished stages. Writes "
        "OUT/transfer.json and OUT/transfer.md.",
        epilog="example: vitac encoders transfer --out runs/transfer",
    )
    _add_run_args(tr, data_required=False)
    tr.set_defaults(handler=lazy("launch.cli_encoders:transfer_command"))
    fl = esub.add_parser(
        "floor",
        help="the linear floor: a ridge reader of the images on each pretraining pair, beside "
        "the trunk",
        description="For each (data set, task) pair of the [pretrain] settings, fit a ridge "
        "regression on the images as the tokenizers take them (pooled to GRID x GRID cells per "
        "colour) on the train split and score it on the val split in the validation's metric, "
        "beside the train split's mean; with --run, beside that pretraining run's validation "
        "before training and at its latest checkpoint. A trunk under the linear reader has not "
        "learned the pair. Writes FILE (JSON) and prints the table.",
        epilog="example: vitac encoders floor --data runs/fota --run runs/pretrain1 "
        "--out runs/floor.json",
    )
    fl.add_argument("--data", type=Path, required=True, metavar="ROOT", help="FoTa data")
    fl.add_argument("--out", type=Path, required=True, metavar="FILE", help="a new JSON file")
    fl.add_argument("--run", type=Path, default=None, metavar="DIR", help="a pretraining run")
    fl.add_argument("--grid", type=int, default=16, help="cells per side (default 16)")
    fl.add_argument(
        "--train-samples",
        type=int,
        default=None,
        help="train samples read (default: pretrain.train_samples when set, else 3000)",
    )
    add_launch_args(fl)
    fl.set_defaults(handler=lazy("launch.cli_encoders:floor_command"))


def _add_run_args(p: argparse.ArgumentParser, data_required: bool) -> None:
    """--data, --out, the launch-file options, --resume and --device of a training run."""
    p.add_argument("--data", type=Path, required=data_required, metavar="ROOT", help="FoTa data")
    p.add_argument("--out", type=Path, required=True, metavar="DIR", help="run directory")
    add_launch_args(p)
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    add_device_arg(p)


def import_t3_command(args: argparse.Namespace) -> int:
    from policies.encoders import import_t3, save_encoder
    from policies.encoders.transformer import parameter_count

    check_new_path(args.out, "--out")
    heads = {}
    for item in args.heads:
        name, sep, kind = item.partition("=")
        if not sep or not name or not kind:
            raise ConfigError(
                f"--head {item}: expected NAME=KIND, e.g. cls_objectfolder=classification"
            )
        heads[name] = kind
    imported = import_t3(args.src, args.num_heads, args.sensors, heads)
    model, c = imported.model, imported.model.config
    save_encoder(
        model, args.out, metadata={"imported_from": str(args.src.resolve()), "source": "T3"}
    )
    print(
        f"imported T3 encoder: width {c.width}, {c.heads} heads, {c.tokenizer_depth} tokenizer + "
        f"{c.trunk_depth} trunk blocks, patch {c.patch_size}, {c.image_size} px, "
        f"{parameter_count(model) / 1e6:.1f}M parameters; sensors {', '.join(model.sensors)}"
    )
    for task, head in model.head_configs.items():
        size = (
            f"width {head.decoder_width}, {head.decoder_depth} blocks"
            if head.kind == "mae"
            else f"{head.outputs} outputs"
        )
        print(f"head {task}: {head.kind}, {size}")
    for skipped in imported.skipped:
        print(f"not imported: {skipped}")
    print(f"written: {args.out}")
    return 0


def make_data_command(args: argparse.Namespace) -> int:
    import time

    from sim.sensor_unit import MAX_SPREAD
    from training.tactile_data import SENSORS, make_tactile_data

    check_new_path(args.out, "--out")
    if args.samples < 1 or args.shard_size < 1:
        raise ConfigError(
            f"need --samples >= 1 and --shard-size >= 1, got {args.samples}, {args.shard_size}"
        )
    if not 0.0 <= args.unit_spread <= MAX_SPREAD:
        raise ConfigError(f"--unit-spread must be in [0, {MAX_SPREAD}], got {args.unit_spread}")
    started = time.perf_counter()
    counts = make_tactile_data(
        args.out,
        args.samples,
        args.seed,
        sensors=args.sensors or tuple(SENSORS),
        shard_size=args.shard_size,
        progress=not args.no_progress,
        shear=args.shear,
        grasp=args.grasp,
        units=args.unit_spread,
    )
    for name, splits in counts.items():
        print(f"{args.out / name}: {splits['train']} train, {splits['val']} val samples")
    print(f"time: {time.perf_counter() - started:.1f} s")
    return 0


def pretrain_command(args: argparse.Namespace) -> int:
    from launch.launch_file import load_launch
    from training.interrupt import Interrupted
    from training.pretrain import pretrain

    launch = load_launch(args.config, args.overrides)
    check_output_path(args.out)
    try:
        result = pretrain(
            launch.config.pretrain,
            args.data,
            args.out,
            resume=args.resume,
            progress=not args.no_progress,
            device=resolve_device(args.device),
        )
    except Interrupted as stop:
        stop.hint = "resume: " + continue_command("pretrain", args, data=args.data, out=args.out)
        raise
    if result.rank != 0:  # under torchrun, the main process reports
        return 0
    for pair, scores in result.validation.items():
        before = result.first_validation.get(pair, {})
        shown = ", ".join(
            f"{k} {before.get(k, float('nan')):.4g} -> {v:.4g}" for k, v in scores.items()
        )
        print(f"{pair}: {shown}")
    print(f"checkpoint: {result.checkpoint}")
    return 0


def transfer_command(args: argparse.Namespace) -> int:
    import shlex
    import sys

    from launch.launch_file import load_launch
    from launch.task_jobs import git_state
    from training.interrupt import Interrupted
    from training.transfer import run_transfer

    launch = load_launch(args.config, args.overrides)
    check_output_path(args.out)
    if args.out.exists() and any(args.out.iterdir()) and not args.resume:
        raise ConfigError(f"--out {args.out} holds a run; pass --resume to continue it")
    paths = {"out": args.out} | ({"data": args.data} if args.data else {})
    command = shlex.join(command_line("encoders transfer", args, record=True, **paths))
    commit, dirty = git_state()
    try:
        run_transfer(
            launch.config.transfer,
            launch.config.pretrain,
            args.out,
            args.data,
            log=lambda line: print(line, file=sys.stderr),
            progress=not args.no_progress,
            device=resolve_device(args.device),
            record={"command": command, "commit": commit, "dirty": dirty},
        )
    except Interrupted as stop:
        stop.hint = "resume: " + continue_command("encoders transfer", args, **paths)
        raise
    print((args.out / "transfer.md").read_text(), end="")
    print(f"rows: {args.out / 'transfer.json'}")
    return 0


def floor_command(args: argparse.Namespace) -> int:
    import json
    import shlex
    import time

    from launch.config import check_output_file
    from launch.launch_file import load_launch
    from launch.task_jobs import git_state
    from training.linear_floor import add_trunk, floor_table, linear_floor, trunk_scores
    from training.pretrain_plan import check_config

    launch = load_launch(args.config, args.overrides)
    config = launch.config.pretrain
    check_config(config)
    check_output_file(args.out, "--out")
    if args.out.exists():
        raise ConfigError(f"--out {args.out} exists; choose a new file (nothing is overwritten)")
    if args.run is not None and not args.run.is_dir():
        raise ConfigError(f"--run {args.run} is not a directory; give a pretraining run")
    if args.train_samples is None:
        args.train_samples = config.train_samples or 3000
    if args.grid < 1 or args.train_samples < 10:
        raise ConfigError(
            f"need --grid >= 1, --train-samples >= 10: {args.grid}, {args.train_samples}"
        )
    trunk = None if args.run is None else trunk_scores(config, args.run)  # before the work
    started = time.perf_counter()
    rows = linear_floor(config, args.data, args.grid, args.train_samples)
    if trunk is not None:
        add_trunk(rows, trunk)
    paths = {"data": args.data, "out": args.out} | ({"run": args.run} if args.run else {})
    argv = command_line("encoders floor", args, record=True, **paths)
    argv += ["--grid", str(args.grid), "--train-samples", str(args.train_samples)]
    commit, dirty = git_state()
    record = {
        "command": shlex.join(argv),
        "commit": commit,
        "dirty": dirty,
        "seconds": round(time.perf_counter() - started, 1),
        "grid": args.grid,
        "pairs": rows,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print(floor_table(rows), end="")
    print(f"written: {args.out}")
    return 0
