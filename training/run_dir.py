"""A training run's directory: where its checkpoints live and which one a command means.

<out>/checkpoints/step_<N>/   one atomic checkpoint directory per saved step
<out>/checkpoints/last        symlink to the newest one
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

from policies import CheckpointError
from policies.checkpoint import CONFIG_FILE

CHECKPOINT_DIR = "checkpoints"
METRICS_FILE = "metrics.jsonl"  # one JSON object a line: a logged step
LAST = "last"  # checkpoints/last -> step_<N> of the newest checkpoint
BEST = "best"  # checkpoints/best -> step_<N> with the highest rollout success
_STEP_DIR = re.compile(r"^step_(\d+)$")


def read_metrics(out_dir: Path) -> list[dict[str, Any]]:
    """The rows of the run's metrics.jsonl ([] when it has none); CheckpointError naming a
    line that is not a JSON object (a file cut or edited by hand)."""
    path = Path(out_dir) / METRICS_FILE
    if not path.is_file():
        return []
    rows = []
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{path}:{number}: not JSON ({err})") from err
        if not isinstance(row, dict) or not isinstance(row.get("step"), int):
            raise CheckpointError(f"{path}:{number}: not a logged step (no integer 'step')")
        rows.append(row)
    return rows


def validations(out_dir: Path, upto: int | None = None) -> list[dict[str, Any]]:
    """The rows of the run's metrics that hold a validation (`val`), up to step `upto`;
    CheckpointError when there is none."""
    rows = [r for r in read_metrics(out_dir) if "val" in r and (upto is None or r["step"] <= upto)]
    if not rows:
        raise CheckpointError(f"{Path(out_dir) / METRICS_FILE}: no validation logged")
    return rows


def checkpoint_path(out_dir: Path, step: int) -> Path:
    return Path(out_dir) / CHECKPOINT_DIR / f"step_{step:07d}"


def run_start(out_dir: Path, resume: bool) -> Path | None:
    """The checkpoint a run continues from (None: a new run), refusing to train over an
    existing run without `resume`, and a resume with nothing to continue."""
    latest = latest_checkpoint(out_dir)
    if latest is not None and not resume:
        raise CheckpointError(
            f"{out_dir} already holds checkpoints (latest {latest.name}); pass resume to "
            "continue that run, or choose a new output directory"
        )
    if latest is None and resume:
        raise CheckpointError(
            f"asked to resume, but {out_dir} holds no checkpoint; start a new run without resume"
        )
    return latest


def latest_checkpoint(out_dir: Path) -> Path | None:
    """The complete checkpoint with the highest step (temporaries are never matched)."""
    root = Path(out_dir) / CHECKPOINT_DIR
    if not root.is_dir():
        return None
    steps = [(int(m.group(1)), p) for p in root.iterdir() if (m := _STEP_DIR.match(p.name))]
    return max(steps)[1] if steps else None


def point_last(checkpoint: Path) -> None:
    """Swap `checkpoints/last` to `checkpoint` atomically."""
    link = checkpoint.with_name(f".{LAST}.tmp-{os.getpid()}")
    link.unlink(missing_ok=True)
    link.symlink_to(checkpoint.name)
    link.replace(checkpoint.with_name(LAST))


def resolve_checkpoint(path: Path) -> Path:
    """A checkpoint directory as given; for a run directory (or its `checkpoints/`), the
    checkpoint its rollouts chose (`checkpoints/best`) or else its newest, so
    `vitac eval RUN_DIR` evaluates what the run would deploy."""
    path = Path(path)
    if not path.is_dir() or (path / CONFIG_FILE).exists():
        return path
    run = path.parent if path.name == CHECKPOINT_DIR else path
    best = run / CHECKPOINT_DIR / BEST
    if (best / CONFIG_FILE).is_file():
        return best.resolve()
    return latest_checkpoint(run) or path
