"""Pretrain the tactile transformer on FoTa data sets: stage I masked autoencoding on every
data set, stage II supervised multi-task; each step draws one (data set, task) pair and
uses only its loss (T3's recipe), with weights from the pairs' sizes.

Fine-tuning is the same loop started from an encoder (`init`), on a few samples
(`train_samples`), optionally with tokenizers and trunk frozen (`freeze`); `exclude` holds
pairs out of stage II (they are still validated: zero-shot transfer). `training.transfer`
runs the transfer table that way.

Run directory:
    <out>/checkpoints/step_<N>/   the encoder (policies.encoders format) + optimizer state
                                  (a run of no steps saves step 0: its untrained weights)
    <out>/metrics.jsonl           train loss per step and pair; validation per pair
    <out>/pretrain.png            both, per pair

Every random choice is a function of (seed, step): the pair drawn, the dropout and the MAE
mask; each data set's batches come from a stream that a resume fast-forwards by the number of
batches the replayed draws took from it. So a resumed run reproduces an uninterrupted one.
Under torchrun (`torchrun --nproc_per_node N -m launch.cli pretrain ...`) each process reads
its share of the shards and gradients are averaged (`training.distributed`): the global batch
is N x batch_size, so a run on N processes is not the same run as on one. On CUDA the
forward passes run under bf16 autocast and the tokenizers and trunk are compiled
(`precision`, `compile`; both can be asked for on the CPU too).
"""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

from policies.encoders import (
    TactileTransformer,
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
from training.pretrain_data import TASKS, Source, Standardiser, Stream, Subset, sensor_of, to_batch
from training.pretrain_eval import (
    check_targets,
    fit_targets,
    targets_metadata,
    val_splits,
    validate,
)
from training.pretrain_plan import (
    PretrainConfig,
    check_config,
    draw,
    draws_before,
    preprocessing,
    pretrained_as,
    trained_pairs,
    validated_pairs,
)
from training.progress import Progress
from training.resume import flat_diff
from training.run_dir import METRICS_FILE, checkpoint_path, read_metrics, run_start
from training.state import JSON_FILE, TENSORS_FILE, restore_trainer, trainer_files
from training.trainer import cosine_lr

PLOT_FILE = "pretrain.png"  # train loss and validation per pair


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
    device: str = "cpu",
) -> PretrainResult:
    """Train (or continue, with `resume`) the run in `out_dir` on `device`; under torchrun
    on CUDA each process takes the GPU of its local rank."""
    check_config(config)
    sources: dict[str, Source] = {}
    for d in config.datasets:
        split = FotaSplit(data_root / d / "train")
        sources[d] = (
            split
            if config.train_samples is None
            else Subset(split, config.train_samples, config.seed)
        )
    vals = val_splits(data_root, config.datasets)
    latest = run_start(out_dir, resume)
    model, start, saved_targets = _model(config, latest)
    scalers = fit_targets(trained_pairs(config), sources, saved_targets)
    check_targets(validated_pairs(config), scalers)
    world = join_from_env(device)
    try:
        model.to(world.device)
        optimizer = _optimizer(model, config)
        if latest is not None:
            restore_trainer(
                optimizer, (latest / TENSORS_FILE).read_bytes(), (latest / JSON_FILE).read_bytes()
            )
        cuda = world.device.startswith("cuda")
        if config.compile == "on" or (config.compile == "auto" and cuda):
            for module in [*model.tokenizers.values(), model.trunk]:
                module.compile()  # in place: the state dict's names stay
        bf16 = config.precision == "bf16" or (config.precision == "auto" and cuda)
        run = _Run(config, out_dir, sources, vals, scalers, world, bf16)
        return run.loop(model, optimizer, start, progress, on_step)
    finally:
        leave(world)


def _optimizer(model: TactileTransformer, config: PretrainConfig) -> torch.optim.Optimizer:
    """AdamW over what trains (the heads only with `freeze`); the heads' lr scaled."""
    if config.freeze:
        for name, p in model.named_parameters():
            p.requires_grad_(name.startswith("heads."))
    named = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    groups = [
        {"params": [p for n, p in named if not n.startswith("heads.")], "scale": 1.0},
        {"params": [p for n, p in named if n.startswith("heads.")], "scale": config.head_lr_scale},
    ]
    return torch.optim.AdamW(groups, lr=config.lr, weight_decay=config.weight_decay)


@dataclass
class _Run:
    """One pretraining or fine-tuning run's fixed parts; `loop` trains and validates.
    With several processes each reads its share of every data set's shards, gradients are
    averaged, and only the main one validates, logs and saves."""

    config: PretrainConfig
    out_dir: Path
    sources: dict[str, Source]
    vals: dict[str, FotaSplit]
    scalers: dict[str, Standardiser]
    world: World
    bf16: bool  # autocast the forward passes to bfloat16

    def loop(
        self,
        model: TactileTransformer,
        optimizer: torch.optim.Optimizer,
        start: int,
        progress: bool,
        on_step: Callable[[int], None] | None,
    ) -> PretrainResult:
        config, world, out_dir = self.config, self.world, self.out_dir
        streams = {
            d: Stream(self.sources[d], config.batch_size, config.seed, world.rank, world.size)
            for d in config.datasets
        }
        for dataset, batches in draws_before(config, self.sources, start).items():
            streams[dataset].skip(batches)  # where an uninterrupted run would be
        metrics_path = out_dir / METRICS_FILE
        first: dict[str, dict[str, float]] = {}
        if world.main:
            out_dir.mkdir(parents=True, exist_ok=True)
            kept = [r for r in read_metrics(out_dir) if r["step"] <= start]
            metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))
            first = next((r["val"] for r in kept if "val" in r), {})
            if not first:
                first = self.validate(model)
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
                dataset, task = draw(config, self.sources, step)
                for group in optimizer.param_groups:
                    lr = cosine_lr(step, config.lr, config.warmup_steps, config.steps)
                    group["lr"] = lr * group["scale"]
                torch.manual_seed(config.seed * 1_000_003 + step)  # dropout and the MAE mask
                with self.autocast():
                    loss = self.loss(model, dataset, task, streams[dataset].next())
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
                    last = record["val"] = self.validate(model)
                if world.main:
                    _append(metrics_path, record)
                shown.update(1, pair=record["pair"], loss=record["loss"])
                if on_step is not None:
                    on_step(done)
                stopping = any_rank(stop.signum is not None, world)
                periodic = done % config.checkpoint_every == 0 or done == config.steps
                if world.main and (periodic or stopping):
                    _save(model, optimizer, config, self.scalers, out_dir, done, world.size)
                if stopping and done < config.steps:
                    saved = checkpoint_path(out_dir, done)
                    raise Interrupted(
                        f"stopped at step {done} of {config.steps}; saved {saved}",
                        stop.signum or signal.SIGTERM,
                    )
        if config.steps == 0 and world.main:  # a run of no steps saves its untrained weights
            _save(model, optimizer, config, self.scalers, out_dir, 0, world.size)
        check_replicas(model, world)
        if world.main:
            plot_pretrain(read_metrics(out_dir), out_dir / PLOT_FILE)
        return PretrainResult(checkpoint_path(out_dir, config.steps), last, first, world.rank)

    def loss(
        self, model: TactileTransformer, dataset: str, task: str, samples: list[Any]
    ) -> torch.Tensor:
        sensor, spec = sensor_of(dataset), TASKS[task]
        where = self.sources[dataset].split_dir
        scaler = self.scalers.get(task)
        contract = model.preprocessing[sensor]
        batch = to_batch(samples, spec, contract, scaler, where, self.config.augment)
        batch = batch.to(self.world.device)
        if spec.head.kind == "mae":
            return model.mae(batch.images, sensor, task, self.config.mask_ratio)[0]
        out = model(batch.images, sensor, task)
        if spec.metric == "accuracy":
            return F.cross_entropy(out, batch.targets)
        return F.mse_loss(out, batch.targets)

    def validate(self, model: TactileTransformer) -> dict[str, dict[str, float]]:
        c, pairs = self.config, validated_pairs(self.config)
        with self.autocast():
            return validate(
                model, pairs, self.vals, self.scalers, c.batch_size, c.mask_ratio, c.seed
            )

    def autocast(self) -> torch.autocast:
        device_type = self.world.device.split(":")[0]
        return torch.autocast(device_type, dtype=torch.bfloat16, enabled=self.bf16)


def _model(
    config: PretrainConfig, latest: Path | None
) -> tuple[TactileTransformer, int, dict[str, Any]]:
    """The model to train, the step it has done and the target units it carries: the latest
    checkpoint of this run, else `init`, else a fresh model."""
    if latest is not None:
        saved = pretrained_as(
            latest, config, f"{latest}: cannot resume exactly; these keys differ: {{differs}}"
        )
        return load_encoder(latest).train(), int(saved["step"]), saved.get("targets", {})
    heads = {t: TASKS[t].head.model_copy(update=_outputs(t)) for t in ["mae", *config.tasks]}
    torch.manual_seed(config.seed)
    if config.init is None:
        sensors = {sensor_of(d): preprocessing(config) for d in config.datasets}
        return TactileTransformer(config.model, sensors, heads), 0, {}
    init = Path(config.init)
    model = load_encoder(init).train()
    differs = flat_diff(model.config.model_dump(), config.model.model_dump(), "pretrain.model")
    if differs:
        raise CheckpointError(f"{init}: its architecture differs: {'; '.join(differs)}")
    if any(p.difference != config.difference for p in model.preprocessing.values()):
        raise CheckpointError(f"{init}: its preprocessing does not match pretrain.difference")
    lacking = sorted({sensor_of(d) for d in config.datasets} - set(model.sensors))
    if lacking:
        raise CheckpointError(f"{init}: no tokenizer for {lacking}; it has {model.sensors}")
    for task, head in heads.items():
        if task not in model.heads:
            model.add_head(task, head)
    saved = json.loads((init / "config.json").read_text())["metadata"]
    return model, 0, saved.get("targets", {})


def _outputs(task: str) -> dict[str, int]:
    spec = TASKS[task]
    return {} if spec.head.kind in ("mae", "classification") else {"outputs": len(spec.labels)}


def _save(
    model: TactileTransformer,
    optimizer: torch.optim.Optimizer,
    config: PretrainConfig,
    scalers: dict[str, Standardiser],
    out_dir: Path,
    step: int,
    world_size: int,
) -> None:
    metadata = {
        "pretrain": config.model_dump(mode="json"),
        "step": step,
        "world_size": world_size,
        "targets": targets_metadata(scalers),  # regression heads' units
    }
    save_encoder(
        model, checkpoint_path(out_dir, step), metadata, trainer_files(optimizer, {"step": step})
    )


def _append(path: Path, record: dict[str, Any]) -> None:
    with path.open("a") as f:
        f.write(json.dumps(record) + "\n")
