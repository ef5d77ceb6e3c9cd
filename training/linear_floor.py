"""The linear floor of a pretraining: what a ridge reader of the images themselves scores on
each (data set, task) pair, beside what the trunk scores.

A trunk that learns a task worse than a linear reader of its own input pixels has not
learned it at all in any useful sense. For every supervised pair of a pretraining config,
the images go through the preprocessing the trunk's tokenizers get (`pretrain_plan.
preprocessing`: resized, cropped, read as differences when `difference` is set), are pooled
to a `grid` x `grid` mean per colour channel, and a ridge regression (strength chosen by
5-fold cross-validation on the train split alone) is fitted on up to `train_samples` of the
train split and scored on the whole val split in the validation's own metric: RMSE in label
units over every target, or accuracy (the class of the highest one-hot prediction). Beside
it, the score of the train split's mean (or majority class): what a head learns that reads
nothing. Numpy and torch on the CPU; a few seconds per data set.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from policies.errors import CheckpointError
from training.fota import FotaError, FotaSample, FotaSplit
from training.pretrain_data import TASKS, label_array, to_batch
from training.pretrain_plan import PretrainConfig, preprocessing, pretrained_as, trained_pairs
from training.probe_ridge import RELATIVE_STRENGTHS, ridge_predictions, select_strength
from training.run_dir import latest_checkpoint, validations

F64 = NDArray[np.float64]


def linear_floor(
    config: PretrainConfig, data: Path, grid: int = 16, train_samples: int = 3000
) -> dict[str, dict[str, Any]]:
    """`{"<data set>/<task>": {"metric", "unit", "mean", "linear", "trained", "features",
    "train", "val"}}` for every supervised pair of `config` on the FoTa root `data`
    (`trained`: whether the pretraining trains the pair, not only scores it)."""
    if grid < 1 or train_samples < 10:
        raise ValueError(f"need grid >= 1 and train_samples >= 10, got {grid}, {train_samples}")
    if config.init is not None:  # its tokenizers take images as that encoder says
        raise CheckpointError("pretrain.init is set: the floor reads images as a new run does")
    trained = set(trained_pairs(config))
    rows: dict[str, dict[str, Any]] = {}
    for dataset in config.datasets if config.tasks else []:
        train = _read(FotaSplit(data / dataset / "train"), train_samples, config.seed)
        val = _read(FotaSplit(data / dataset / "val"), None, config.seed)
        x_train, x_val = _features(train, config, grid), _features(val, config, grid)
        for task in config.tasks:  # supervised only: check_config refuses "mae"
            spec, where = TASKS[task], data / dataset / "train"
            y_train = label_array(train[0], spec.labels, where)  # (n, k)
            y_val = label_array(val[0], spec.labels, data / dataset / "val")
            classes = spec.head.outputs if spec.metric == "accuracy" else 0
            for labels, name in ((y_train, "train"), (y_val, "val")):
                if classes and not ((labels >= 0) & (labels < classes)).all():
                    raise FotaError(
                        f"{data / dataset / name}: {task} labels outside [0, {classes})"
                    )
            mean, linear = _scores(x_train, y_train, x_val, y_val, classes)
            rows[f"{dataset}/{task}"] = {
                "metric": spec.metric,
                "unit": spec.unit,
                "mean": mean,
                "linear": linear,
                "trained": (dataset, task) in trained,
                "features": int(x_train.shape[1]),
                "train": len(y_train),
                "val": len(y_val),
            }
    return rows


def _read(split: FotaSplit, limit: int | None, seed: int) -> tuple[list[FotaSample], Path]:
    """Up to `limit` samples of `split` (all when None), in a seeded order."""
    samples = list(itertools.islice(split.samples(seed=seed), limit))
    if len(samples) < 10:
        raise FotaError(f"{split.split_dir}: {len(samples)} samples; the floor needs 10 or more")
    return samples, split.split_dir


def _features(read: tuple[list[FotaSample], Path], config: PretrainConfig, grid: int) -> F64:
    """(n, 3 * grid * grid): the tokenizers' input images, pooled to grid x grid cells."""
    samples, where = read
    contract, out = preprocessing(config), []
    for start in range(0, len(samples), 256):
        chunk = samples[start : start + 256]
        images = to_batch(chunk, TASKS["mae"], contract, None, where).images  # (B, 3, S, S)
        pooled = torch.nn.functional.adaptive_avg_pool2d(images, grid)  # (B, 3, grid, grid)
        out.append(pooled.flatten(1).double().numpy())
    return np.concatenate(out)


def _scores(
    x_train: F64, y_train: F64, x_val: F64, y_val: F64, classes: int
) -> tuple[float, float]:
    """(score of the train mean, score of the ridge reader) on the val split; `classes`: the
    class count of a classification task (its labels in [0, classes)), else 0."""
    # classes: one-hot targets (n, classes), the prediction the class of the highest output
    y_fit = np.eye(classes)[y_train[:, 0].astype(int)] if classes else y_train
    groups = np.arange(len(x_train), dtype=np.int64)  # presses are independent samples
    strength = select_strength(x_train, y_fit, groups, 5, RELATIVE_STRENGTHS)
    pred = ridge_predictions(x_train, y_fit, x_val, (strength,))[0]  # (n_val, k)
    constant = np.broadcast_to(y_fit.mean(axis=0), pred.shape)
    if classes:
        truth = y_val[:, 0].astype(int)
        return float(np.mean(constant.argmax(1) == truth)), float(np.mean(pred.argmax(1) == truth))
    return _rmse(constant, y_val), _rmse(pred, y_val)


def _rmse(pred: F64, truth: F64) -> float:
    """Over every target and sample, as the pretraining's validation reports it."""
    return math.sqrt(float(np.mean((pred - truth) ** 2)))


@dataclass(frozen=True)
class TrunkScores:
    """A pretraining run's validation before training and the last at or before its latest
    checkpoint (step `step`), per pair."""

    run: Path
    before: dict[str, dict[str, float]]
    after: dict[str, dict[str, float]]
    step: int


def trunk_scores(config: PretrainConfig, run: Path) -> TrunkScores:
    """The pretraining run `run`'s scores; CheckpointError when it is no pretraining run, or
    one made with other settings than `config` (its scores would not be of these pairs)."""
    latest = latest_checkpoint(run)
    if latest is None:
        raise CheckpointError(f"{run}: no checkpoint; give a pretraining run directory")
    refusal = f"{run} was pretrained with other settings: {{differs}}"
    metadata = pretrained_as(latest, config, refusal)
    scored = validations(run, upto=metadata["step"])
    return TrunkScores(run, scored[0]["val"], scored[-1]["val"], scored[-1]["step"])


def add_trunk(rows: dict[str, dict[str, Any]], scores: TrunkScores) -> None:
    """Add the trunk's scores to each row: `trunk_before`, `trunk` (at `trunk_step`)."""
    for pair, row in rows.items():
        if pair not in scores.before or pair not in scores.after:
            raise CheckpointError(f"{scores.run}: its validation has no {pair}")
        row["trunk_before"] = scores.before[pair][row["metric"]]
        row["trunk"] = scores.after[pair][row["metric"]]
        row["trunk_step"] = scores.step


def floor_table(rows: dict[str, dict[str, Any]]) -> str:
    """A markdown table of the rows (with the trunk's columns when `add_trunk` ran)."""
    trunk = all("trunk" in r for r in rows.values())
    steps = sorted({r["trunk_step"] for r in rows.values()}) if trunk else []
    after = "trunk" + "".join(f" (step {s})" for s in steps)
    head = "| pair | metric | train mean | linear reader |" + (f" trunk before | {after} |" * trunk)
    lines = [head, "|---|---|---:|---:|" + ("---:|---:|" * trunk)]
    for pair, r in rows.items():
        metric = r["metric"] + (f" ({r['unit']})" if r["unit"] else "")
        pair_name = pair + ("" if r["trained"] else " (held out)")
        cells = [r["mean"], r["linear"]] + ([r["trunk_before"], r["trunk"]] if trunk else [])
        lines.append(f"| {pair_name} | {metric} | " + " | ".join(f"{v:.3g}" for v in cells) + " |")
    return "\n".join(lines) + "\n"
