"""One generic trainer for every policy: AdamW, warmup + cosine LR, gradient clipping,
periodic validation, atomic resumable checkpoints, progress (a bar, or log lines off a
terminal) and a metrics log.

Run directory:
    <out>/checkpoints/step_<N>/   policy checkpoint + trainer state (one atomic directory)
    <out>/metrics.jsonl           one JSON line per logged step
Randomness is a pure function of (seed, step): the batch at step N and its augmentation
are the same whether the run was interrupted or not, so a resumed run reproduces an
uninterrupted one exactly on the same machine.
"""

from __future__ import annotations

import math
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from io import StringIO
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator

from policies import (
    CheckpointError,
    Policy,
    PolicyConfig,
    make_policy,
    read_checkpoint_config,
)
from policies.tactile import with_pretrained_architecture
from training.dataset import WindowDataset, cache_features, load_datasets
from training.distributed import (
    World,
    any_rank,
    average_gradients,
    check_replicas,
    join_from_env,
    leave,
)
from training.ema import Ema, EmaConfig
from training.interrupt import Interrupted, stop_on_signals
from training.metric_sinks import LogSink, MetricsLog, open_sinks
from training.progress import Progress
from training.resume import check_resume, dataset_fingerprint
from training.rollouts import Rollout, RolloutConfig, Selection
from training.run_dir import METRICS_FILE, checkpoint_path, run_start
from training.state import (
    JSON_FILE,
    TENSORS_FILE,
    restore_trainer,
    resume_training,
    save_training,
)


class TrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    steps: int = Field(2000, ge=1)
    batch_size: int = Field(64, ge=1)
    lr: float = Field(1e-3, gt=0)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(100, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    val_ratio: float = Field(0.1, ge=0, lt=1)
    val_every: int = Field(250, ge=1)
    val_batches: int = Field(4, ge=1)
    checkpoint_every: int = Field(500, ge=1)
    log_every: int = Field(25, ge=1)
    seed: int = 0
    threads: int | None = Field(None, ge=1, description="torch CPU threads; default: all")
    obs_keys: list[str] | None = Field(None, description="policy inputs; default: all obs")
    episodes: int | None = Field(
        None, ge=1, description="train on this many of the dataset's episodes (drawn with "
        "seed, before the validation split); default: all",
    )  # fmt: skip
    precision: Literal["auto", "fp32", "bf16"] = Field(
        "auto", description="bf16 autocast of the loss's forward pass; auto: on CUDA only"
    )
    ema: EmaConfig = Field(default_factory=EmaConfig)
    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    log: list[LogSink] = Field(
        default_factory=lambda: list[LogSink](["jsonl"]),
        description="metric sinks: jsonl (always: resume and plots read it), tensorboard, wandb",
    )

    @field_validator("log")
    @classmethod
    def _jsonl_always(cls, value: list[LogSink]) -> list[LogSink]:
        if "jsonl" not in value:
            raise ValueError("must include 'jsonl' (metrics.jsonl is always written)")
        return list(dict.fromkeys(value))


@dataclass(frozen=True)
class TrainResult:
    checkpoint: Path  # the last
    best: Path | None  # the best by rollout success (None without rollouts)
    steps: int
    train_loss: float
    val_loss: float | None
    iterations_per_s: float


def train(
    policy_config: PolicyConfig,
    config: TrainConfig,
    dataset_path: Path,
    out_dir: Path,
    *,
    resume: bool = False,
    progress: bool = True,
    metadata: dict[str, Any] | None = None,
    log: Callable[[str], None] = print,
    on_step: Callable[[int], None] | None = None,
    device: str = "cpu",
    run_files: dict[str, str] | None = None,
    rollout: Rollout | None = None,
) -> TrainResult:
    """Train a policy on `dataset_path`, writing checkpoints and metrics under `out_dir`.

    A resume is checked against the checkpoint first (`training.resume`); warnings go to
    `log`. On SIGINT/SIGTERM the step in progress finishes, a checkpoint is saved and
    `Interrupted` is raised. `on_step(done)` runs after every step (tests, hooks).
    `run_files` (name -> text, e.g. the resolved launch file) are written into `out_dir` once
    the run is known to start; `checkpoints/last` points at the newest checkpoint.
    With `train.rollout.every`, `rollout(checkpoint)` -> success rate runs at those steps and
    `checkpoints/best` follows the best (training.rollouts).

    Under torchrun (WORLD_SIZE > 1) each process takes its share of every batch
    (`train.batch_size` is the global batch), gradients are averaged, and rank 0 alone
    validates, rolls out, logs and saves (training.distributed).
    """
    if config.rollout.every is not None and rollout is None:
        raise ValueError("train.rollout.every is set, so train() needs a rollout function")
    world = join_from_env(device)
    try:
        if config.batch_size % world.size:
            raise ValueError(
                f"train.batch_size ({config.batch_size}) must be divisible by the number of "
                f"processes ({world.size}): it is the global batch, split evenly"
            )
        return _train(
            policy_config, config, dataset_path, Path(out_dir), world, resume, progress,
            metadata, log, on_step, run_files, rollout,
        )  # fmt: skip
    finally:
        leave(world)


def _train(
    policy_config: PolicyConfig,
    config: TrainConfig,
    dataset_path: Path,
    out_dir: Path,
    world: World,
    resume: bool,
    progress: bool,
    metadata: dict[str, Any] | None,
    log: Callable[[str], None],
    on_step: Callable[[int], None] | None,
    run_files: dict[str, str] | None,
    rollout: Rollout | None,
) -> TrainResult:
    device, main = world.device, world.main
    if config.threads:
        torch.set_num_threads(config.threads)
    latest = run_start(out_dir, resume)
    saved_policy = read_checkpoint_config(latest)["policy"] if latest is not None else None
    policy_config = with_pretrained_architecture(policy_config, saved_policy)
    train_set, val_set, io, store = load_datasets(
        dataset_path, policy_config, config.obs_keys, config.val_ratio, config.seed,
        config.episodes,
    )  # fmt: skip
    fingerprint = dataset_fingerprint(store)
    if latest is not None:
        warnings = check_resume(
            str(latest),
            read_checkpoint_config(latest),
            policy=policy_config,
            io=io,
            train=config.model_dump(mode="json"),
            dataset=fingerprint,
        )
        for warning in warnings:
            log(f"warning: {warning}")
        policy, ema, start = resume_training(latest, config.ema)
        if start >= config.steps:
            raise CheckpointError(
                f"{latest.name} has done {start} steps and train.steps is {config.steps}: "
                "nothing to resume; raise train.steps to train on"
            )
    else:
        torch.manual_seed(config.seed)
        policy, start = make_policy(policy_config, io), 0
        policy.fit_normalizer(train_set.data, train_set.chunks(policy_config))
        policy.load_pretrained()
        ema = Ema(policy, config.ema) if config.ema.enabled else None
    policy.to(device)
    streams = _t3_streams(policy)
    if streams is not None and streams.frozen and not streams.difference:  # once per frame
        cache_features(train_set.data, streams.keys, streams.features, device)
    if ema is not None:
        ema.model.to(device)
    deployed = ema.model if ema is not None else policy  # validated, saved, evaluated
    for name, text in (run_files or {}).items() if main else ():
        out_dir.mkdir(parents=True, exist_ok=True)
        (out_dir / name).write_text(text)
    optimizer = torch.optim.AdamW(
        param_groups(policy), lr=config.lr, weight_decay=config.weight_decay
    )
    if latest is not None:
        restore_trainer(
            optimizer, (latest / TENSORS_FILE).read_bytes(), (latest / JSON_FILE).read_bytes()
        )
    metadata = {
        **(metadata or {}),
        "dataset": str(dataset_path),
        "dataset_attrs": store.attrs,
        "dataset_fingerprint": fingerprint,
        "train": config.model_dump(mode="json"),
        "device": device,
        "world_size": world.size,
    }
    sinks = open_sinks(config.log, out_dir, start, metadata) if main else []
    metrics = MetricsLog(out_dir / METRICS_FILE, start, sinks, enabled=main)
    selection = Selection(out_dir) if config.rollout.every is not None and main else None
    if selection is not None:
        selection.replay(metrics.read(metrics.path))

    policy.train()
    window_loss: list[float] = []
    val_loss: float | None = None
    t0, steps_done = time.perf_counter(), 0
    quiet = None if main else StringIO()  # one progress display: rank 0's
    shown = Progress("train", config.steps, "it", initial=start, bar=progress, stream=quiet)
    with stop_on_signals() as stop, shown, metrics:
        for step in range(start, config.steps):
            window_loss.append(_step(policy, optimizer, train_set, config, step, world))
            if ema is not None:
                ema.update(policy, step)
            steps_done += 1
            done = step + 1
            rolled = selection is not None and config.rollout.due(done, config.steps)
            validated = (
                main
                and val_set is not None
                and (done % config.val_every == 0 or done == config.steps or rolled)
            )
            if val_set is not None and validated:
                val_loss = _validate(deployed, val_set, config)
            success, saved = None, False
            if rolled and rollout is not None and selection is not None:
                save_training(out_dir, policy, ema, optimizer, done, metadata)
                saved, success = True, rollout(checkpoint_path(out_dir, done))
                selection.consider(done, success, val_loss if validated else None)
            status: dict[str, Any] = {}
            if done % config.log_every == 0 or done == config.steps or validated or rolled:
                lr = optimizer.param_groups[0]["lr"]
                record = {
                    "step": done,
                    "loss": float(np.mean(window_loss)),
                    "lr": lr,
                    "val_loss": val_loss if validated else None,
                    "success": success,
                    "time": time.time(),
                }
                metrics.write(record)
                status = {"loss": record["loss"], "val": _fmt(val_loss), "lr": f"{lr:.1e}"}
                if success is not None:
                    status["success"] = f"{success:.0%}"
                window_loss = []
            shown.update(1, **status)
            if on_step is not None:
                on_step(done)
            stopping = any_rank(stop.signum is not None, world)
            due = done % config.checkpoint_every == 0 or done == config.steps or stopping
            if main and due and not saved:
                save_training(out_dir, policy, ema, optimizer, done, metadata)
            if stopping and done < config.steps:
                raise Interrupted(
                    f"stopped at step {done} of {config.steps}; "
                    f"saved {checkpoint_path(out_dir, done)}",
                    stop.signum or signal.SIGTERM,
                )
    check_replicas(policy, world)
    elapsed = time.perf_counter() - t0
    last = metrics.last()
    best = selection.step if selection is not None else None
    return TrainResult(
        checkpoint=checkpoint_path(out_dir, config.steps),
        best=checkpoint_path(out_dir, best) if best is not None else None,
        steps=config.steps,
        train_loss=float(last["loss"]) if last else float("nan"),
        val_loss=val_loss,
        iterations_per_s=steps_done / elapsed if elapsed > 0 else float("nan"),
    )


def _step(
    policy: Policy,
    optimizer: torch.optim.Optimizer,
    train_set: WindowDataset,
    config: TrainConfig,
    step: int,
    world: World,
) -> float:
    """One optimiser step; its batch and augmentation are a function of (seed, step). Each
    process takes every world.size-th window of the global batch; gradients are averaged."""
    set_lr(optimizer, cosine_lr(step, config.lr, config.warmup_steps, config.steps))
    generator = np.random.default_rng([config.seed, step])
    torch.manual_seed(config.seed * 1_000_003 + step)  # augmentation noise for this step
    indices = generator.integers(0, len(train_set), config.batch_size)[world.rank :: world.size]
    batch = {k: v.to(world.device, non_blocking=True) for k, v in train_set.batch(indices).items()}
    bf16 = config.precision == "bf16" or (config.precision == "auto" and world.device != "cpu")
    with torch.autocast(world.device.split(":")[0], dtype=torch.bfloat16, enabled=bf16):
        loss = policy.compute_loss(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    average_gradients(policy.parameters(), world)
    torch.nn.utils.clip_grad_norm_(policy.parameters(), config.grad_clip)
    optimizer.step()
    return float(loss.item())


def _t3_streams(policy: Policy) -> Any:
    """The policy's tactile transformer streams (policies.tactile.T3Streams), or None."""
    return getattr(getattr(policy, "observations", None), "t3", None)


def param_groups(policy: Policy) -> list[dict[str, Any]]:
    """The optimiser's parameter groups: one, or, when a trained T3 encoder has its own
    `policy.t3.lr_scale`, the encoder's parameters apart with that scale of the lr (a
    pretrained trunk fine-tuned gently beside a fresh head)."""
    streams = _t3_streams(policy)
    if streams is None or streams.frozen or streams.options.lr_scale == 1.0:
        return [{"params": list(policy.parameters()), "scale": 1.0}]
    encoder = list(streams.encoder.parameters())
    mine = {id(p) for p in encoder}
    rest = [p for p in policy.parameters() if id(p) not in mine]
    return [
        {"params": rest, "scale": 1.0},
        {"params": encoder, "scale": streams.options.lr_scale},
    ]


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    """Every group's lr: `lr` x the group's scale (param_groups)."""
    for group in optimizer.param_groups:
        group["lr"] = lr * group.get("scale", 1.0)


def cosine_lr(step: int, lr: float, warmup: int, total: int) -> float:
    """Linear warmup over `warmup` steps, then cosine from `lr` to 0 at `total` steps."""
    if step < warmup:
        return lr * (step + 1) / warmup
    progress = (step - warmup) / max(1, total - warmup)
    return lr * 0.5 * (1.0 + math.cos(math.pi * progress))


@torch.no_grad()
def _validate(policy: Policy, val_set: WindowDataset, config: TrainConfig) -> float:
    """Mean loss over a fixed, evenly spaced set of validation windows (no augmentation;
    the noise a diffusion loss draws is seeded, so values compare across steps)."""
    was_training = policy.training
    policy.eval()
    count = min(len(val_set), config.val_batches * config.batch_size)
    indices = np.linspace(0, len(val_set) - 1, count).astype(np.int64)
    batches = np.array_split(indices, math.ceil(count / config.batch_size))
    device = next(policy.parameters()).device
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(config.seed)
        losses = [
            policy.compute_loss({k: v.to(device) for k, v in val_set.batch(idx).items()}).item()
            * len(idx)
            for idx in batches
        ]
    policy.train(was_training)
    return float(np.sum(losses) / count)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.4f}"
