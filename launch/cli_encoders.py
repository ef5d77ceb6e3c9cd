"""`vitac encoders`: tactile transformer checkpoints (import from T3; imported only when run)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from launch.config import ConfigError, check_output_path


def add_encoders_parser(sub: Any, lazy: Any) -> None:
    """The `encoders` command and its actions, on the CLI's subparsers `sub`."""
    p = sub.add_parser(
        "encoders",
        help="tactile transformer encoders: import T3's published weights",
        description="Manage shared-trunk tactile transformer encoders (the T3 family).",
        epilog="example: vitac encoders import-t3 t3_medium --out runs/encoders/t3_medium",
    )
    esub = p.add_subparsers(dest="encoders_command", required=True, metavar="ACTION")
    t3 = esub.add_parser(
        "import-t3",
        help="convert a T3 checkpoint folder (trunk.pth, encoders/<sensor>.pth) to vitac's "
        "safetensors format",
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
    t3.set_defaults(handler=lazy("launch.cli_encoders:import_t3_command"))


def import_t3_command(args: argparse.Namespace) -> int:
    from policies.encoders import import_t3, save_encoder
    from policies.encoders.transformer import parameter_count

    check_output_path(args.out)
    if args.out.exists():
        raise ConfigError(
            f"--out {args.out} exists; choose a new directory (nothing is overwritten)"
        )
    imported = import_t3(args.src, args.num_heads, args.sensors)
    model, c = imported.model, imported.model.config
    save_encoder(
        model, args.out, metadata={"imported_from": str(args.src.resolve()), "source": "T3"}
    )
    print(
        f"imported T3 encoder: width {c.width}, {c.heads} heads, {c.tokenizer_depth} tokenizer + "
        f"{c.trunk_depth} trunk blocks, patch {c.patch_size}, {c.image_size} px, "
        f"{parameter_count(model) / 1e6:.1f}M parameters; sensors {', '.join(model.sensors)}"
    )
    for skipped in imported.skipped:
        print(f"not imported: {skipped}")
    print(f"written: {args.out}")
    return 0
