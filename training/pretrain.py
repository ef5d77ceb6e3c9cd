"""Pretrain the tactile transformer on FoTa data sets: stage I masked autoencoding on every
data set, stage II supervised multi-task; each step draws one (data set, task) pair and
uses only its loss (T3's recipe), with weights from the pairs' sizes.

Run directory:
    <out>/checkpoints/step_<N>/   the encoder (policies.encoders format) + optimizer state
    <out>/metrics.jsonl           train loss per step and pair; validation per pair
    <out>/pretrain.png            both, per pair

Every random choice is a function of (seed, step): the pair drawn, the dropout and the MAE
mask; each data set's batches come from a stream that a resume fast-forwards by the number of
batches the replayed draws took from it. So a resumed run reproduces an uninterrupted one.
Under torchrun (`torchrun --nproc_per_node N -m launch.cli pretrain ...`) each process reads
its share of the shards and gradients are averaged (`training.distributed`): the global batch
is N x batch_size, so a run on N processes is not the same run as on one. Not yet: bf16
autocast and torch.compile on CUDA, augmentation.
"""

from __future__ import annotations

import itertools
import json
import math
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from policies.encoders import (
    Preprocessing,
    TactileTransformer,
    TransformerConfig,
    load_encoder,
    save_encoder,
)
from policies.errors import CheckpointError
from training.distributed import (
    World,
    any_rank,
    average_gradients,
    check_replicas,
    join_from_env,
    leave,
)
from training.fota import FotaSplit
from training.interrupt import Interrupted, stop_on_signals
from training.plots import plot_pretrain
from training.pretrain_data import TASKS, Standardiser, Stream, label_array, sensor_of, to_batch
from training.progress import Progress
from training.resume import flat_diff
from training.state import JSON_FILE, TENSORS_FILE, restore_trainer, trainer_files
from training.trainer import checkpoint_path, cosine_lr, run_start

Pair = tuple[str, str]  # (data set, task)
PLOT_FILE = "pretrain.png"  # train loss and validation per pair


class PretrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: TransformerConfig = TransformerConfig(
        width=96, heads=3, tokenizer_depth=2, trunk_depth=4, patch_size=8, image_size=64
    )  # images are resized and centre-cropped to model.image_size
    datasets: list[str] = ["sim_mini", "sim_digit"]
    tasks: list[str] = ["shape", "location", "force"]
    mae_steps: int = Field(300, ge=0, description="stage I")
    supervised_steps: int = Field(600, ge=0, description="stage II")
    mask_ratio: float = Field(0.4, gt=0, lt=1)
    sampling: Literal["sqrt", "equal", "inverse"] = "sqrt"
    batch_size: int = Field(32, ge=1)
    lr: float = Field(5e-4, gt=0)
    head_lr_scale: float = Field(1.0, gt=0, description="heads' lr = lr x this")
    weight_decay: float = Field(0.1, ge=0)
    warmup_steps: int = Field(30, ge=0)
    val_every: int = Field(150, ge=1)
    checkpoint_every: int = Field(150, ge=1)
    seed: int = Field(0, ge=0)

    @property
    def steps(self) -> int:
        return self.mae_steps + self.supervised_steps


@dataclass(frozen=True)
class PretrainResult:
    checkpoint: Path
    validation: dict[str, dict[str, float]]  # "sim_mini/shape" -> {"accuracy": ...}
    first_validation: dict[str, dict[str, float]]
    rank: int = 0  # with several processes only rank 0 validates: the others' are empty


def pretrain(
    config: PretrainConfig,
    data_root: Path,
    out_dir: Path,
    *,
    resume: bool = False,
    progress: bool = True,
    on_step: Callable[[int], None] | None = None,
) -> PretrainResult:
    unknown = [t for t in config.tasks if t not in TASKS or t == "mae"]
    if unknown:
        raise CheckpointError(f"unknown tasks {unknown}; available: {sorted(set(TASKS) - {'mae'})}")
    splits = {
        d: (FotaSplit(data_root / d / "train"), FotaSplit(data_root / d / "val"))
        for d in config.datasets
    }
    scalers = {
        (d, t): _fit_scaler(splits[d][0], t, data_root / d / "train")
        for d in config.datasets
        for t in config.tasks
        if TASKS[t].metric == "rmse"
    }
    latest = run_start(out_dir, resume)
    model, start = _model(config, latest)
    groups = [
        {
            "params": [
                p
                for n, p in model.named_parameters()
                if not n.startswith("heads.") and p.requires_grad
            ],
            "scale": 1.0,
        },
        {
            "params": [
                p for n, p in model.named_parameters() if n.startswith("heads.") and p.requires_grad
            ],
            "scale": config.head_lr_scale,
        },
    ]
    optimizer = torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)
    if latest is not None:
        restore_trainer(
            optimizer, (latest / TENSORS_FILE).read_bytes(), (latest / JSON_FILE).read_bytes()
        )
    world = join_from_env()
    try:
        return _run(
            config,
            data_root,
            out_dir,
            model,
            optimizer,
            start,
            splits,
            scalers,
            world,
            progress,
            on_step,
        )
    finally:
        leave(world)


def _run(
    config: PretrainConfig,
    data_root: Path,
    out_dir: Path,
    model: TactileTransformer,
    optimizer: torch.optim.Optimizer,
    start: int,
    splits: dict[str, tuple[FotaSplit, FotaSplit]],
    scalers: dict[Pair, Standardiser],
    world: World,
    progress: bool,
    on_step: Callable[[int], None] | None,
) -> PretrainResult:
    """The loop; with several processes each reads its share of every data set's shards,
    gradients are averaged, and only the main one validates, logs and saves."""
    streams = {
        d: Stream(splits[d][0], config.batch_size, config.seed, world.rank, world.size)
        for d in config.datasets
    }
    for dataset, batches in _draws_before(config, splits, start).items():
        streams[dataset].skip(batches)  # where an uninterrupted run would be
    metrics_path = out_dir / "metrics.jsonl"
    first: dict[str, dict[str, float]] = {}
    if world.main:
        out_dir.mkdir(parents=True, exist_ok=True)
        kept = [r for r in _read(metrics_path) if r["step"] <= start]
        metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
        first = next((r["val"] for r in kept if "val" in r), {})
        if not first:
            first = _validate(model, config, splits, scalers)
            _append(metrics_path, {"step": 0, "val": first})
    last = first
    model.train()
    with (
        stop_on_signals() as stop,
        Progress(
            "pretrain", config.steps, "it", initial=start, bar=progress and world.main
        ) as shown,
    ):
        for step in range(start, config.steps):
            dataset, task = _draw(config, splits, step)
            for group in optimizer.param_groups:
                group["lr"] = (
                    cosine_lr(step, config.lr, config.warmup_steps, config.steps) * group["scale"]
                )
            torch.manual_seed(config.seed * 1_000_003 + step)  # dropout and the MAE mask
            loss = _loss(
                model,
                config,
                dataset,
                task,
                streams[dataset].next(),
                scalers.get((dataset, task)),
                data_root,
            )
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            average_gradients(model.parameters(), world)
            torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
            optimizer.step()
            done = step + 1
            record: dict[str, Any] = {
                "step": done,
                "pair": f"{dataset}/{task}",
                "loss": loss.item(),
            }
            validating = done % config.val_every == 0 or done == config.steps
            if world.main and validating:
                last = record["val"] = _validate(model, config, splits, scalers)
            if world.main:
                _append(metrics_path, record)
            shown.update(1, pair=record["pair"], loss=record["loss"])
            if on_step is not None:
                on_step(done)
            stopping = any_rank(stop.signum is not None, world)
            periodic = done % config.checkpoint_every == 0 or done == config.steps
            if world.main and (periodic or stopping):
                _save(model, optimizer, config, out_dir, done, world.size)
            if stopping and done < config.steps:
                saved = checkpoint_path(out_dir, done)
                raise Interrupted(
                    f"stopped at step {done} of {config.steps}; saved {saved}",
                    stop.signum or signal.SIGTERM,
                )
    check_replicas(model, world)
    if world.main:
        plot_pretrain(_read(metrics_path), out_dir / PLOT_FILE)
    return PretrainResult(checkpoint_path(out_dir, config.steps), last, first, world.rank)


def pairs(config: PretrainConfig, step: int) -> list[Pair]:
    """The (data set, task) pairs of the stage `step` is in."""
    if step < config.mae_steps:
        return [(d, "mae") for d in config.datasets]
    return [(d, t) for d in config.datasets for t in config.tasks]


def _draw(
    config: PretrainConfig, splits: dict[str, tuple[FotaSplit, FotaSplit]], step: int
) -> Pair:
    candidates = pairs(config, step)
    sizes = np.array(
        [max(1, splits[d][0].count // config.batch_size) for d, _ in candidates], float
    )
    weights = {"sqrt": np.sqrt(sizes), "equal": np.ones_like(sizes), "inverse": 1.0 / sizes}[
        config.sampling
    ]
    index = np.random.default_rng([config.seed, step]).choice(
        len(candidates), p=weights / weights.sum()
    )
    return candidates[int(index)]


def _draws_before(
    config: PretrainConfig, splits: dict[str, tuple[FotaSplit, FotaSplit]], start: int
) -> dict[str, int]:
    counts = dict.fromkeys(config.datasets, 0)
    for step in range(start):
        counts[_draw(config, splits, step)[0]] += 1
    return counts


def _loss(
    model: TactileTransformer,
    config: PretrainConfig,
    dataset: str,
    task: str,
    samples: list[Any],
    scaler: Standardiser | None,
    root: Path,
) -> torch.Tensor:
    sensor, spec = sensor_of(dataset), TASKS[task]
    batch = to_batch(samples, spec, model.preprocessing[sensor], scaler, root / dataset / "train")
    if spec.head.kind == "mae":
        return model.mae(batch.images, sensor, task, config.mask_ratio)[0]
    out = model(batch.images, sensor, task)
    if spec.metric == "accuracy":
        return F.cross_entropy(out, batch.targets)
    return F.mse_loss(out, batch.targets)


@torch.no_grad()
def _validate(
    model: TactileTransformer,
    config: PretrainConfig,
    splits: dict[str, tuple[FotaSplit, FotaSplit]],
    scalers: dict[Pair, Standardiser],
) -> dict[str, dict[str, float]]:
    """Every pair of both stages on its data set's whole val split (read once per data set)."""
    model.eval()
    every = {p for step in (0, config.mae_steps) for p in pairs(config, step)}
    totals: dict[Pair, float] = dict.fromkeys(every, 0.0)
    read = dict.fromkeys(config.datasets, 0)
    for dataset in config.datasets:
        tasks = sorted(t for d, t in every if d == dataset)
        split = splits[dataset][1]
        samples = split.samples(seed=config.seed, shuffle=False)
        while chunk := list(itertools.islice(samples, config.batch_size)):
            read[dataset] += len(chunk)
            for task in tasks:
                totals[(dataset, task)] += _score(
                    model, config, dataset, task, chunk, scalers, split.split_dir
                )
    report: dict[str, dict[str, float]] = {}
    for (dataset, task), total in sorted(totals.items()):
        metric, mean = TASKS[task].metric, total / read[dataset]
        report[f"{dataset}/{task}"] = {metric: math.sqrt(mean) if metric == "rmse" else mean}
    model.train()
    return report


def _score(
    model: TactileTransformer,
    config: PretrainConfig,
    dataset: str,
    task: str,
    chunk: list[Any],
    scalers: dict[Pair, Standardiser],
    where: Path,
) -> float:
    """A validation batch's summed score: MAE loss, correct answers, or squared error (per
    target, in label units)."""
    spec, sensor = TASKS[task], sensor_of(dataset)
    batch = to_batch(chunk, spec, model.preprocessing[sensor], None, where)
    if spec.head.kind == "mae":
        generator = torch.Generator().manual_seed(config.seed)
        loss = model.mae(batch.images, sensor, task, config.mask_ratio, generator)[0]
        return loss.item() * len(chunk)
    out = model(batch.images, sensor, task)
    if spec.metric == "accuracy":
        return float((out.argmax(1) == batch.targets).sum().item())
    pred = scalers[(dataset, task)].inverse(out.numpy())
    return float(((pred - label_array(chunk, spec.labels, where)) ** 2).sum() / len(spec.labels))


def _model(config: PretrainConfig, latest: Path | None) -> tuple[TactileTransformer, int]:
    if latest is not None:
        saved = json.loads((latest / "config.json").read_text())["metadata"]
        problems = flat_diff(saved.get("pretrain", {}), config.model_dump(mode="json"), "pretrain")
        problems = [
            p
            for p in problems
            if not p.startswith(("pretrain.val_every", "pretrain.checkpoint_every"))
        ]
        if problems:
            raise CheckpointError(
                f"{latest}: cannot resume exactly; these keys differ: {'; '.join(problems)}"
            )
        return load_encoder(latest).train(), int(saved["step"])
    torch.manual_seed(config.seed)
    size = config.model.image_size
    contract = Preprocessing(resize=size, crop=size)
    sensors = {sensor_of(d): contract for d in config.datasets}
    heads = {t: TASKS[t].head.model_copy(update=_outputs(t)) for t in ["mae", *config.tasks]}
    return TactileTransformer(config.model, sensors, heads), 0


def _outputs(task: str) -> dict[str, int]:
    spec = TASKS[task]
    return {} if spec.head.kind in ("mae", "classification") else {"outputs": len(spec.labels)}


def _fit_scaler(split: FotaSplit, task: str, where: Path) -> Standardiser:
    samples = list(split.samples(seed=0, shuffle=False))
    return Standardiser.fit(label_array(samples, TASKS[task].labels, where))


def _save(
    model: TactileTransformer,
    optimizer: torch.optim.Optimizer,
    config: PretrainConfig,
    out_dir: Path,
    step: int,
    world_size: int,
) -> None:
    metadata = {"pretrain": config.model_dump(mode="json"), "step": step, "world_size": world_size}
    save_encoder(
        model, checkpoint_path(out_dir, step), metadata, trainer_files(optimizer, {"step": step})
    )


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")


def _read(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
