"""How pretraining and fine-tuning score an encoder: each (data set, task) pair on its data
set's whole val split, in label units (accuracy; RMSE in mm or N; the MAE loss), and the
regression targets' standardisers that a checkpoint carries with its heads.

The standardisers are per task, not per data set: a task's head is shared by every sensor
(T3's design), so its outputs must mean the same on each. They are fitted on the labels the
run trains on and saved in the checkpoint's metadata (`targets`), so a fine-tuning run starts
with the units its pretrained head was trained in.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch

from policies.encoders import TactileTransformer
from policies.errors import CheckpointError
from training.fota import FotaSample, FotaSplit
from training.pretrain_data import TASKS, Source, Standardiser, label_array, sensor_of, to_batch
from training.pretrain_plan import Pair


def fit_targets(
    trained: Iterable[Pair], sources: Mapping[str, Source], saved: Mapping[str, Any]
) -> dict[str, Standardiser]:
    """Per regression task: the checkpoint's standardiser when `saved` holds one, else one
    fitted on the train labels of every data set the task is trained on."""
    trained = list(trained)
    scalers: dict[str, Standardiser] = {}
    read: dict[str, list[FotaSample]] = {}  # each data set's train split, read once
    for task in sorted({t for _, t in trained if TASKS[t].metric == "rmse"}):
        if task in saved:
            scalers[task] = Standardiser(
                np.asarray(saved[task]["mean"], float), np.asarray(saved[task]["std"], float)
            )
            continue
        labels = []
        for dataset in [d for d, t in trained if t == task]:
            if dataset not in read:
                read[dataset] = list(sources[dataset].samples(seed=0))
            where = sources[dataset].split_dir
            labels.append(label_array(read[dataset], TASKS[task].labels, where))
        scalers[task] = Standardiser.fit(np.concatenate(labels))
    return scalers


def targets_metadata(scalers: Mapping[str, Standardiser]) -> dict[str, dict[str, list[float]]]:
    return {t: {"mean": s.mean.tolist(), "std": s.std.tolist()} for t, s in scalers.items()}


def check_targets(every: Iterable[Pair], scalers: Mapping[str, Standardiser]) -> None:
    """A validated regression pair needs its task's standardiser: some pair trains the task."""
    untrained = sorted({t for _, t in every if TASKS[t].metric == "rmse" and t not in scalers})
    if untrained:
        raise CheckpointError(
            f"tasks {untrained} are trained on no data set (all excluded) and the initial "
            "checkpoint has no head units for them; train them somewhere or drop them"
        )


@torch.no_grad()
def validate(
    model: TactileTransformer,
    every: Iterable[Pair],
    vals: Mapping[str, FotaSplit],
    scalers: Mapping[str, Standardiser],
    batch_size: int,
    mask_ratio: float,
    seed: int,
) -> dict[str, dict[str, float]]:
    """Every pair on its data set's whole val split (read once per data set)."""
    model.eval()
    every = sorted(set(every))
    totals: dict[Pair, float] = dict.fromkeys(every, 0.0)
    read: dict[str, int] = {}
    for dataset in sorted({d for d, _ in every}):
        tasks = [t for d, t in every if d == dataset]
        samples = vals[dataset].samples(seed=seed, shuffle=False)
        read[dataset] = 0
        while chunk := list(itertools.islice(samples, batch_size)):
            read[dataset] += len(chunk)
            for task in tasks:
                totals[(dataset, task)] += _score(
                    model, dataset, task, chunk, scalers.get(task), mask_ratio, seed, vals
                )
    report: dict[str, dict[str, float]] = {}
    for (dataset, task), total in totals.items():
        metric, mean = TASKS[task].metric, total / read[dataset]
        report[f"{dataset}/{task}"] = {metric: math.sqrt(mean) if metric == "rmse" else mean}
    model.train()
    return report


def _score(
    model: TactileTransformer,
    dataset: str,
    task: str,
    chunk: list[FotaSample],
    scaler: Standardiser | None,
    mask_ratio: float,
    seed: int,
    vals: Mapping[str, FotaSplit],
) -> float:
    """A validation batch's summed score: MAE loss, correct answers, or squared error (per
    target, in label units)."""
    spec, sensor, where = TASKS[task], sensor_of(dataset), vals[dataset].split_dir
    batch = to_batch(chunk, spec, model.preprocessing[sensor], None, where)
    batch = batch.to(next(model.parameters()).device)
    if spec.head.kind == "mae":
        generator = torch.Generator().manual_seed(seed)
        loss = model.mae(batch.images, sensor, task, mask_ratio, generator)[0]
        return loss.item() * len(chunk)
    out = model(batch.images, sensor, task)
    if spec.metric == "accuracy":
        return float((out.argmax(1) == batch.targets).sum().item())
    assert scaler is not None  # check_targets ran first
    pred = scaler.inverse(out.float().cpu().numpy())
    return float(((pred - label_array(chunk, spec.labels, where)) ** 2).sum() / len(spec.labels))


def val_splits(root: Path, datasets: Iterable[str]) -> dict[str, FotaSplit]:
    return {d: FotaSplit(root / d / "val") for d in datasets}
