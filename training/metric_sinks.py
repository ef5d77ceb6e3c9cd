"""Where training metrics go besides `metrics.jsonl` (which is always written: resume and the
plots read it): TensorBoard event files under `<run>/tensorboard/` and Weights & Biases.

`train.log = ["jsonl", "tensorboard", "wandb"]` picks them. Each sink receives the same
records as the JSON log: {"step", "loss", "lr", "val_loss" (or None), "time"}. On resume,
TensorBoard drops events past the resumed step (`purge_step`) and W&B continues the same run
(its id is kept in `<run>/wandb_id`), so neither shows the abandoned tail twice.
"""

from __future__ import annotations

import importlib.util
import json
import os
import uuid
from pathlib import Path
from typing import Any, Literal, Protocol

LogSink = Literal["jsonl", "tensorboard", "wandb"]
MODULES = {"tensorboard": "tensorboard", "wandb": "wandb"}
INSTALL = {"tensorboard": "pip install 'vitac[tensorboard]'", "wandb": "pip install wandb"}
SCALARS = ("loss", "lr", "val_loss")


class MetricSink(Protocol):
    def write(self, record: dict[str, Any]) -> None: ...

    def close(self) -> None: ...


def missing_sinks(names: list[LogSink]) -> list[str]:
    """`name (install: ...)` for each asked-for sink whose package is not installed."""
    return [
        f"{n} ({INSTALL[n]})"
        for n in names
        if n in MODULES and importlib.util.find_spec(MODULES[n]) is None
    ]


def open_sinks(
    names: list[LogSink], out_dir: Path, start: int, config: dict[str, Any]
) -> list[MetricSink]:
    sinks: list[MetricSink] = []
    if "tensorboard" in names:
        sinks.append(TensorBoardSink(out_dir, start))
    if "wandb" in names:
        sinks.append(WandbSink(out_dir, config))
    return sinks


class TensorBoardSink:
    def __init__(self, out_dir: Path, start: int) -> None:
        from torch.utils.tensorboard import SummaryWriter

        # on resume, events after the resumed step (written before the interruption) go
        purge = start + 1 if start else None
        self.writer = SummaryWriter(str(out_dir / "tensorboard"), purge_step=purge)

    def write(self, record: dict[str, Any]) -> None:
        for key in SCALARS:
            if record.get(key) is not None:
                self.writer.add_scalar(f"train/{key}", record[key], record["step"])

    def close(self) -> None:
        self.writer.close()


class WandbSink:
    def __init__(self, out_dir: Path, config: dict[str, Any]) -> None:
        import wandb

        id_file = out_dir / "wandb_id"
        run_id = id_file.read_text().strip() if id_file.is_file() else uuid.uuid4().hex[:12]
        id_file.write_text(run_id)
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "vitac"),
            name=out_dir.name,
            id=run_id,
            resume="allow",
            dir=str(out_dir),
            config=config,
        )

    def write(self, record: dict[str, Any]) -> None:
        values = {f"train/{k}": record[k] for k in SCALARS if record.get(k) is not None}
        self.run.log(values, step=record["step"])

    def close(self) -> None:
        self.run.finish()


class MetricsLog:
    """Append-only JSON-lines log; on resume, drops lines past the resumed step. Each record
    also goes to the other sinks (TensorBoard, W&B), closed with the log."""

    def __init__(
        self, path: Path, truncate_after: int, sinks: list[MetricSink], enabled: bool = True
    ) -> None:
        self.path, self.sinks, self.enabled = path, sinks, enabled
        if not enabled:  # a process that does not log (DDP ranks above 0)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        kept = [r for r in self.read(path) if r["step"] <= truncate_after]
        path.write_text("".join(json.dumps(r) + "\n" for r in kept))

    def write(self, record: dict[str, Any]) -> None:
        if not self.enabled:
            return
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")
        for sink in self.sinks:
            sink.write(record)

    def __enter__(self) -> MetricsLog:
        return self

    def __exit__(self, *exc: object) -> None:
        for sink in self.sinks:
            sink.close()

    def last(self) -> dict[str, Any] | None:
        records = self.read(self.path) if self.enabled else []
        return records[-1] if records else None

    @staticmethod
    def read(path: Path) -> list[dict[str, Any]]:
        if not path.is_file():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
